import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createBaselines } from '../src/ops.js'

test('a configured baseline is the expected time from the first call', () => {
  const record = createBaselines({ render: 20 })
  assert.deepEqual(record('render', 25), [20, false])
  assert.deepEqual(record('render', 31), [20, true], 'over 1.5 x 20')
})

test('without configuration the baseline is a running mean after a warm-up', () => {
  const record = createBaselines()
  for (let i = 0; i < 5; i++) assert.deepEqual(record('op', 20), [undefined, false])
  assert.deepEqual(record('op', 29), [20, false])
  const [expected, slow] = record('op', 45)
  assert.ok(expected > 20 && expected < 22, String(expected))
  assert.equal(slow, true)
})

test('over slowMs is slow whatever the baseline; tiny calls are never slow by ratio', () => {
  const record = createBaselines({ big: 5000, tiny: 0.01 }, 1000)
  assert.deepEqual(record('big', 1200), [5000, true])
  assert.deepEqual(record('tiny', 0.5), [0.01, false], 'under minMs (10 ms)')
  assert.deepEqual(record('tiny', 12), [0.01, true])
})

test('baselines are kept per operation name', () => {
  const record = createBaselines({ a: 10 })
  assert.equal(record('b', 100)[0], undefined)
  assert.equal(record('a', 100)[0], 10)
})
