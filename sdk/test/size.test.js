import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BUDGET, bundles, gzSize } from '../build.mjs'

test('both builds stay within the 6 KB minified+gzipped budget', async () => {
  const { esm, iife } = await bundles()
  for (const [name, text] of [['esm', esm], ['iife', iife]]) {
    assert.ok(gzSize(text) <= BUDGET, `${name}: ${gzSize(text)} B gzipped > ${BUDGET}`)
  }
})

test('the IIFE defines the global WasmWatch; the ES module exports init', async () => {
  const { esm, iife } = await bundles()
  const scope = {}
  new Function('globalThis', iife)(scope)
  assert.equal(typeof scope.WasmWatch.init, 'function')
  assert.equal(typeof scope.WasmWatch.track, 'function', 'no-op forwarders before init()')
  assert.equal(scope.WasmWatch.track('x', () => 42), 42)
  assert.match(esm, /export\{.*\binit\b.*\}/)
})

test('the worker build defines WasmWatch in a worker scope; worker support exports wrapWorkers', async () => {
  const { worker, pageWorkers } = await bundles()
  const scope = {}
  new Function('globalThis', worker)(scope)
  assert.equal(typeof scope.WasmWatch.init, 'function')
  assert.equal(scope.WasmWatch.track('x', () => 7), 7)
  assert.match(pageWorkers, /export\{.*\bwrapWorkers\b.*\}/)
})
