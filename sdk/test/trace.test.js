import { test } from 'node:test'
import assert from 'node:assert/strict'
import { traceFetch } from '../src/trace.js'

globalThis.location = new URL('http://app.example/editor/page')
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/

// A scope whose fetch records what it was called with.
function scope() {
  const calls = []
  const G = { fetch(input, init) { calls.push({ input, init, self: this }); return Promise.resolve('done') } }
  return { G, calls, open: new Set() }
}
const headers = call => new Headers(call.init && call.init.headers)

test('outside an operation fetch is called exactly as the app called it', async () => {
  const { G, calls, open } = scope()
  traceFetch(G, 's1', open)
  const init = { method: 'POST', headers: { a: '1' } }
  assert.equal(await G.fetch('/api/save', init), 'done')
  assert.equal(calls[0].input, '/api/save')
  assert.equal(calls[0].init, init, 'the same init object, untouched')
})

test('inside an operation same-origin requests get traceparent and the session id', () => {
  const { G, calls, open } = scope()
  traceFetch(G, 'sess-1', open)
  const op = {}
  open.add(op)
  G.fetch('/api/save', { method: 'POST', headers: { 'Content-Type': 'application/json' } })
  G.fetch('http://app.example/api/load')
  G.fetch(new URL('http://app.example/x'))
  const [a, b, c] = calls.map(headers)
  const [, trace, span] = TRACEPARENT.exec(a.get('traceparent'))
  assert.equal(op.t, trace, 'the operation keeps the trace id of its requests')
  assert.equal(a.get('x-wasmwatch-session'), 'sess-1')
  assert.equal(a.get('content-type'), 'application/json', 'the app\'s own headers are kept')
  assert.equal(calls[0].init.method, 'POST', 'and the rest of its init')
  assert.equal(TRACEPARENT.exec(b.get('traceparent'))[1], trace, 'one trace per operation')
  assert.notEqual(TRACEPARENT.exec(b.get('traceparent'))[2], span, 'a new span id per request')
  assert.equal(TRACEPARENT.exec(c.get('traceparent'))[1], trace)
  assert.notEqual(trace, '0'.repeat(32))
})

test('other origins never get the headers (no CORS preflight)', () => {
  const { G, calls, open } = scope()
  traceFetch(G, 's', open)
  const op = {}
  open.add(op)
  const init = { headers: { a: '1' } }
  G.fetch('https://api.other.example/v1', init)
  G.fetch('http://app.example:8080/other-port')
  G.fetch('//cdn.example/lib.js')
  assert.equal(calls[0].init, init)
  assert.deepEqual(calls.map(c => headers(c).has('traceparent')), [false, false, false])
  assert.equal(op.t, undefined, 'no traced request: no trace id')
})

test('a Request keeps its headers, an app traceparent is left alone, the latest operation wins', () => {
  const { G, calls, open } = scope()
  traceFetch(G, 's', open)
  const outer = {}, inner = {}
  open.add(outer)
  open.add(inner)
  G.fetch(new Request('http://app.example/r', { headers: { 'X-App': 'y' } }))
  G.fetch('/own', { headers: new Headers({ traceparent: '00-' + 'a'.repeat(32) + '-' + 'b'.repeat(16) + '-01' }) })
  const [r, own] = calls.map(c => new Headers(c.init.headers))
  assert.equal(r.get('x-app'), 'y')
  assert.equal(TRACEPARENT.exec(r.get('traceparent'))[1], inner.t)
  assert.equal(outer.t, undefined)
  assert.equal(own.get('traceparent'), '00-' + 'a'.repeat(32) + '-' + 'b'.repeat(16) + '-01')
  assert.equal(own.get('x-wasmwatch-session'), 's')
})

test('bad arguments reach the real fetch as they were; restore puts fetch back', () => {
  const { G, calls, open } = scope()
  const real = G.fetch
  const restore = traceFetch(G, 's', open)
  open.add({})
  G.fetch(undefined)
  G.fetch('http://[bad')
  assert.deepEqual(calls.map(c => c.input), [undefined, 'http://[bad'])
  assert.equal(calls[1].init, undefined)
  restore()
  assert.equal(G.fetch, real)
})

test('restore leaves a wrapper made after ours in place', () => {
  const { G, open } = scope()
  const restore = traceFetch(G, 's', open)
  const later = G.fetch = () => 'later'
  restore()
  assert.equal(G.fetch, later)
})
