// getCurrentMetrics(): the seed's running totals, divide-by-zero safe.

// The client's counters: the seed's names where a counter is reported as is.
export const zero = () => ({ heap_usage: 0, initialization_time: 0, operation_count: 0,
  error_count: 0, bundle_load_time: 0, offline_operations: 0, feature_usage: {}, syncs: 0,
  synced: 0, uses: 0, visible: 0, sum: 0, n: 0 })

/**
 * m: the client's counters; current: ms of the visible segment still open; wasm: linear memory
 * bytes. engagement_score is 0..100: half for visible time (full at 10 minutes), half for
 * feature uses (full at 10).
 */
export function metrics(m, current, wasm) {
  const time = m.visible + current, n = Math.min(m.n, 100)
  return {
    runtime: { heap_usage: m.heap_usage || wasm, wasm_memory: wasm,
      initialization_time: m.initialization_time, operation_count: m.operation_count,
      error_count: m.error_count },
    performance: { bundle_load_time: m.bundle_load_time,
      average_operation_time: n ? Math.max(0, m.sum / n) : 0,
      offline_operations: m.offline_operations, sync_success_rate: m.syncs ? m.synced / m.syncs : 1 },
    business: { time_on_page: time, feature_usage: { ...m.feature_usage },
      engagement_score: Math.round(Math.min(50, time / 12000) + Math.min(50, m.uses * 5)) },
    collected_at: new Date().toISOString(),
  }
}
