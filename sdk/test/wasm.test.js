import { test } from 'node:test'
import assert from 'node:assert/strict'
import { instrument, memories } from '../src/wasm.js'

// (module (memory (export "memory") 1)), hand-assembled.
const BYTES = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1, 7, 10, 1, 6, 109, 101, 109, 111, 114, 121, 2, 0])
const wasmResponse = () => new Response(BYTES, { headers: { 'content-type': 'application/wasm' } })

// A WebAssembly namespace of our own, so the global one is never touched by these tests.
function setup() {
  const W = { ...Object.fromEntries(['compile', 'instantiate', 'compileStreaming', 'instantiateStreaming',
    'Module', 'Instance', 'Memory'].map(k => [k, WebAssembly[k]])) }
  const original = { ...W }, loaded = [], mems = [], errors = []
  let t = 0
  const restore = instrument(W, { loaded: i => loaded.push(i), memory: m => mems.push(m), error: e => errors.push(e) },
    () => (t += 10))
  return { W, original, loaded, mems, errors, restore }
}

test('instantiateStreaming is timed as compile then instantiate and returns {module, instance}', async () => {
  const { W, loaded, mems } = setup()
  const result = await W.instantiateStreaming(Promise.resolve(wasmResponse()), {})
  assert.ok(result.module instanceof WebAssembly.Module)
  assert.ok(result.instance instanceof WebAssembly.Instance)
  assert.equal(loaded.length, 1)
  assert.equal(loaded[0].streaming, true)
  assert.equal(loaded[0].compile_ms, 10)
  assert.equal(loaded[0].instantiate_ms, 10)
  assert.ok(loaded[0].end > loaded[0].start)
  assert.deepEqual(mems, [result.instance.exports.memory])
})

test('instantiate(bytes) returns {module, instance}; instantiate(module) returns an Instance', async () => {
  const { W, loaded } = setup()
  const pair = await W.instantiate(BYTES, {})
  assert.ok(pair.instance instanceof WebAssembly.Instance)
  assert.equal(loaded[0].streaming, false)
  const instance = await W.instantiate(pair.module, {})
  assert.ok(instance instanceof WebAssembly.Instance)
  assert.equal(loaded.length, 1, 'one bundle_load per module')
})

test('compile and compileStreaming return modules; their instantiation is reported once', async () => {
  const { W, loaded } = setup()
  const m1 = await W.compile(BYTES)
  const m2 = await W.compileStreaming(wasmResponse())
  assert.equal(loaded.length, 0, 'nothing until instantiated')
  await W.instantiate(m1)
  await W.instantiate(m2)
  assert.deepEqual(loaded.map(l => l.streaming), [false, true])
  assert.ok(loaded.every(l => l.compile_ms == 10 && l.instantiate_ms == 10))
})

test('compile and link failures are reported and still reach the caller unchanged', async () => {
  const { W, errors } = setup()
  await assert.rejects(W.instantiate(new Uint8Array([1, 2, 3, 4])), WebAssembly.CompileError)
  const linked = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 2, 8, 1, 1, 109, 1, 109, 2, 0, 1]) // imports m.m memory
  await assert.rejects(W.instantiate(linked, {}), TypeError)
  await assert.rejects(W.instantiate(linked, { m: { m: 1 } }), WebAssembly.LinkError)
  await assert.rejects(W.instantiateStreaming(Promise.reject(new TypeError('Failed to fetch'))), TypeError)
  assert.deepEqual(errors.map(e => e.name), ['CompileError', 'LinkError'])
})

test('imported memories are found too', async () => {
  const { W, mems } = setup()
  const linked = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 2, 8, 1, 1, 109, 1, 109, 2, 0, 1])
  const memory = new WebAssembly.Memory({ initial: 1 })
  await W.instantiate(linked, { m: { m: memory } })
  assert.deepEqual(mems, [memory])
})

test('restore puts the original functions back', () => {
  const { W, original, restore } = setup()
  assert.notEqual(W.instantiate, original.instantiate)
  restore()
  for (const k of ['compile', 'instantiate', 'compileStreaming', 'instantiateStreaming']) assert.equal(W[k], original[k], k)
})

test('memories() picks WebAssembly.Memory values only', () => {
  const found = []
  const memory = new WebAssembly.Memory({ initial: 1 })
  memories(WebAssembly, { memory, f() {}, n: 1 }, m => found.push(m))
  memories(WebAssembly, null, m => found.push(m))
  assert.deepEqual(found, [memory])
})

// Engines (and polyfills) whose streaming calls go through the public, wrapped functions.
function throughPublic(kind) {
  const s = setup()
  const bytes = async src => (await src).arrayBuffer()
  const W = s.W
  Object.assign(W, { ...s.original })
  if (kind == 'compile') W.compileStreaming = async src => W.compile(await bytes(src))
  else W.compileStreaming = async src => (await W.instantiate(await bytes(src), {})).module
  W.instantiateStreaming = async (src, imports) => W.instantiate(await bytes(src), imports)
  let t = 0
  const loaded = []
  const restore = instrument(W, { loaded: i => loaded.push(i), memory() {}, error() {} }, () => (t += 10))
  return { W, loaded, restore }
}

for (const kind of ['compile', 'instantiate']) {
  test(`streaming through the wrapped ${kind}: one record, streaming, with the URL`, async () => {
    const { W, loaded } = throughPublic(kind)
    const response = wasmResponse()
    Object.defineProperty(response, 'url', { value: 'http://h/app.wasm' })
    const { instance, module } = await W.instantiateStreaming(Promise.resolve(response), {})
    assert.ok(instance instanceof WebAssembly.Instance && module instanceof WebAssembly.Module)
    await new Promise(r => setTimeout(r, 0))
    assert.equal(loaded.length, 1, JSON.stringify(loaded))
    assert.equal(loaded[0].streaming, true)
    assert.equal(loaded[0].url, 'http://h/app.wasm')
    assert.equal(loaded[0].start, 10, 'timed from the streaming call, not the inner one')
  })
}

test('a streaming compile that fails, then the instantiate fallback: one record, not streaming', async () => {
  const { W, loaded, errors } = setup()
  const wrong = new Response(BYTES, { headers: { 'content-type': 'application/octet-stream' } })
  await assert.rejects(W.instantiateStreaming(Promise.resolve(wrong), {}), TypeError)
  const { instance } = await W.instantiate(BYTES, {})
  assert.ok(instance instanceof WebAssembly.Instance)
  assert.deepEqual(loaded.map(l => l.streaming), [false])
  assert.deepEqual(errors, [], 'a MIME refusal is the loader\'s business, not an error')
})

test('a load by bytes while another module streams is reported once, when the stream settles', async () => {
  const { W, loaded } = setup()
  let arrive
  const slow = new Promise(r => { arrive = r })
  const streamed = W.instantiateStreaming(slow, {})
  await W.instantiate(BYTES, {})
  assert.equal(loaded.length, 0, 'held while a streaming call is in flight')
  arrive(wasmResponse())
  await streamed
  await new Promise(r => setTimeout(r, 0))
  assert.deepEqual(loaded.map(l => l.streaming).sort(), [false, true])
})
