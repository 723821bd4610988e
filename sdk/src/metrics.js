// getCurrentMetrics(): the seed's running totals, divide-by-zero safe.

export const zero = () => ({ heap_: 0, init_: 0, ops_: 0, errors_: 0, bundle_: 0, offline_: 0, syncs_: 0,
  synced_: 0, features_: {}, uses_: 0, visible_: 0, sum_: 0, n_: 0 })

/**
 * m: the client's counters; current: ms of the visible segment still open; wasm: linear memory
 * bytes. engagement_score is 0..100: half for visible time (full at 10 minutes), half for
 * feature uses (full at 10).
 */
export function metrics(m, current, wasm) {
  const time = m.visible_ + current, n = Math.min(m.n_, 100)
  return {
    runtime: { heap_usage: m.heap_ || wasm, wasm_memory: wasm, initialization_time: m.init_,
      operation_count: m.ops_, error_count: m.errors_ },
    performance: { bundle_load_time: m.bundle_, average_operation_time: n ? Math.max(0, m.sum_ / n) : 0,
      offline_operations: m.offline_, sync_success_rate: m.syncs_ ? m.synced_ / m.syncs_ : 1 },
    business: { time_on_page: time, feature_usage: { ...m.features_ },
      engagement_score: Math.round(Math.min(50, time / 12000) + Math.min(50, m.uses_ * 5)) },
    collected_at: new Date().toISOString(),
  }
}
