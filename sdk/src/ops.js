// Per-operation baselines and the slow-operation rule. Pure: durations in, verdicts out.

/**
 * `record(name, ms)` returns `[expected, slow]`: the baseline before this call (configured,
 * else a running mean once 5 calls were seen) and whether this call is slow: over 1.5 x the
 * baseline (and at least 10 ms, so timer noise on sub-ms calls is not "slow"), or over
 * `slowMs` whatever the baseline.
 */
export function createBaselines(configured = {}, slowMs = 1000) {
  const running = new Map()
  return (name, ms) => {
    let b = running.get(name)
    if (!b) running.set(name, b = [0, 0])
    const expected = configured[name] || (b[0] >= 5 ? b[1] : undefined)
    // A plain mean over the first 20 calls, then exponentially weighted (1/20).
    b[1] += (ms - b[1]) / Math.min(++b[0], 20)
    return [expected, ms > slowMs || (ms >= 10 && ms > 1.5 * expected)]
  }
}
