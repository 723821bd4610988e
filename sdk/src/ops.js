// Per-operation baselines and the slow-operation rule. Pure: durations in, verdicts out.

/**
 * `record(name, ms)` returns `[expected, slow]`: the baseline before this call (configured,
 * else a running mean once `warmup` calls were seen) and whether this call is slow: over
 * `ratio` x the baseline (and at least `minMs`, so timer noise on sub-ms calls is not "slow"),
 * or over `slowMs` whatever the baseline.
 */
export function createBaselines(configured = {}, slowMs = 1000, ratio = 1.5, minMs = 10, warmup = 5) {
  const running = new Map()
  return (name, ms) => {
    let b = running.get(name)
    if (!b) running.set(name, b = [0, 0])
    const expected = configured[name] || (b[0] >= warmup ? b[1] : undefined)
    // Exponentially weighted mean; the first `warmup` calls are a plain mean.
    b[1] += (ms - b[1]) / Math.min(++b[0], 20)
    return [expected, ms > slowMs || (expected > 0 && ms >= minMs && ms > ratio * expected)]
  }
}
