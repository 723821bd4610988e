// getCurrentMetrics(): the seed's running totals, divide-by-zero safe.

// The client's counters (short names: each seed name is written once, in metrics()): JS heap,
// init ms, operations, errors, bundle load ms, offline operations, feature uses by name, syncs,
// syncs ok, feature uses, visible ms, sum and count of the recent operation durations.
export const zero = () => ({ heap: 0, init: 0, ops: 0, errs: 0, load: 0, offs: 0, feats: {}, syncs: 0,
  synced: 0, uses: 0, visible: 0, sum: 0, n: 0 })

/**
 * m: the client's counters; current: ms of the visible segment still open; wasm: linear memory
 * bytes. engagement_score is 0..100: half for visible time (full at 10 minutes), half for
 * feature uses (full at 10).
 */
export function metrics(m, current, wasm) {
  const time = m.visible + current, n = Math.min(m.n, 100)
  return {
    runtime: { heap_usage: m.heap || wasm, wasm_memory: wasm, initialization_time: m.init,
      operation_count: m.ops, error_count: m.errs },
    performance: { bundle_load_time: m.load, average_operation_time: n ? Math.max(0, m.sum / n) : 0,
      offline_operations: m.offs, sync_success_rate: m.syncs ? m.synced / m.syncs : 1 },
    business: { time_on_page: time, feature_usage: { ...m.feats },
      engagement_score: Math.round(Math.min(50, time / 12000) + Math.min(50, m.uses * 5)) },
    collected_at: new Date().toISOString(),
  }
}
