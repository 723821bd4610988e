// The dashboard's formatters: axis ticks that stay distinct, one-line time labels, plurals.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { change, ms, msTicks, plural, timeTicks } from '../src/format.js'
import { viewHash } from '../src/url.js'
import { state } from '../src/state.js'

test('sub-millisecond ticks are distinct', () => {
  const labels = msTicks([0, 0.05, 0.1, 0.15, 0.2, 0.25], 0.05)
  assert.deepEqual(labels, ['0', '0.05 ms', '0.10 ms', '0.15 ms', '0.20 ms', '0.25 ms'])
  assert.equal(new Set(labels).size, labels.length)
  assert.deepEqual(msTicks([0, 2.5, 5, 7.5], 2.5), ['0', '2.5 ms', '5.0 ms', '7.5 ms'])
})

test('an axis reaching a second is in seconds throughout', () => {
  assert.deepEqual(msTicks([0, 500, 1000, 1500], 500), ['0', '0.5 s', '1.0 s', '1.5 s'])
})

test('time ticks are one short line, with seconds only for sub-minute steps', () => {
  const t = new Date(2026, 11, 1, 10, 24, 30).getTime() / 1000
  assert.deepEqual(timeTicks([t], 30), ['10:24:30'])
  assert.deepEqual(timeTicks([t], 300), ['10:24'])
  assert.deepEqual(timeTicks([t], 86400), ['Dec 1'])
})

test('plurals and changes', () => {
  assert.equal(plural(1, 'load'), '1 load')
  assert.equal(plural(2, 'load'), '2 loads')
  assert.equal(plural(0, 'error'), '0 errors')
  assert.equal(change(1.5), '+50 %')
  assert.equal(change(0.97), '−3.0 %')
  assert.equal(change(1.001), '±0 %')
  assert.equal(ms(0.001), '<0.01 ms')
})

test('the view hash holds the window or the range, filters and page, never the token', () => {
  Object.assign(state, { window: '5m', range: null, page: 'releases', token: 'secret' })
  state.filters.operation = 'render'
  assert.equal(viewHash(), '#window=5m&operation=render&page=releases')
  state.range = { from: 1000, to: 70000 }
  assert.equal(viewHash(), '#from=1000&to=70000&operation=render&page=releases')
})
