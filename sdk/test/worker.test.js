import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rebase, relay } from '../src/worker.js'

const channel = () => ({ posted: [], postMessage (d) { this.posted.push(d) }, onmessage: null })

test('the relay outbox posts items, losses and urgency to the page', () => {
  const ch = channel(), out = relay(ch)
  assert.equal(out.push({ id: 'a.1' }), true)
  out.lose('rate_limited')
  out.urgent()
  out.tick(); out.wake(); out.hide()
  assert.deepEqual(ch.posted, [{ id: 'a.1' }, { lost: 'rate_limited', n: 1 }, { u: 1 }])
})

test('a relayed flush settles when the page answers it, or after the wait', async () => {
  const ch = channel(), out = relay(ch, 50)
  let done = false
  const flushed = out.flush().then(() => { done = true })
  const [ask] = ch.posted
  ch.onmessage({ data: { f: 'someone else' } })
  await new Promise(r => setTimeout(r, 5))
  assert.equal(done, false, 'another worker\'s answer is not ours')
  ch.onmessage({ data: ask })
  await flushed
  const started = Date.now()
  await relay(channel(), 30).flush()
  assert.ok(Date.now() - started >= 25, 'no page: settles after the wait')
})

test('rebase resolves relative URLs against the script, not the blob', () => {
  const base = 'http://app.example/js/worker.js'
  class Worker { constructor (u, o) { this.u = u; this.o = o } }
  class XHR { open (m, u) { this.u = u } }
  const G = { fetch: (u, o) => [u, o], importScripts: (...u) => u, Worker, XMLHttpRequest: XHR }
  rebase(G, base)
  assert.deepEqual(G.fetch('m.wasm', 1), ['http://app.example/js/m.wasm', 1])
  const req = new Request('http://other.example/x')
  assert.equal(G.fetch(req)[0], req, 'Request objects pass as they are')
  assert.deepEqual(G.importScripts('a.js', '/b.js'), ['http://app.example/js/a.js', 'http://app.example/b.js'])
  const w = new G.Worker('nested.js', { type: 'module' })
  assert.ok(w instanceof Worker)
  assert.equal(w.u, 'http://app.example/js/nested.js')
  const x = new XHR()
  x.open('GET', '../data.json')
  assert.equal(x.u, 'http://app.example/data.json')
  assert.equal(G.location.href, base)
  assert.equal(G.location.pathname, '/js/worker.js')
})
