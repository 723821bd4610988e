import { test } from 'node:test'
import assert from 'node:assert/strict'
import { metrics, zero } from '../src/metrics.js'

test('with nothing recorded every figure is defined: no division by zero', () => {
  const got = metrics(zero(), 0, 0)
  assert.deepEqual(got.runtime, { heap_usage: 0, wasm_memory: 0, initialization_time: 0,
    operation_count: 0, error_count: 0 })
  assert.deepEqual(got.performance, { bundle_load_time: 0, average_operation_time: 0,
    offline_operations: 0, sync_success_rate: 1 })
  assert.deepEqual(got.business, { time_on_page: 0, feature_usage: {}, engagement_score: 0 })
  assert.ok(!Number.isNaN(Date.parse(got.collected_at)))
})

test('running totals: average over the last 100 operations, sync rate, engagement score', () => {
  const m = { ...zero(), ops: 150, sum: 500, n: 150, syncs: 4, synced: 3, uses: 4,
    visible: 60_000, feats: { a: 4 } }
  const got = metrics(m, 30_000, 65536)
  assert.equal(got.performance.average_operation_time, 5)
  assert.equal(got.performance.sync_success_rate, 0.75)
  assert.equal(got.business.time_on_page, 90_000)
  assert.equal(got.business.engagement_score, Math.round(90_000 / 12_000 + 20))
  assert.equal(got.runtime.heap_usage, 65536, 'linear memory when the JS heap is unknown')
  got.business.feature_usage.a = 99
  assert.equal(m.feats.a, 4, 'a copy, not the live counters')
})
