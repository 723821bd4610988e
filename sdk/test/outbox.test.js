import { test } from 'node:test'
import assert from 'node:assert/strict'
import { backoff, createOutbox, parseRetryAfter } from '../src/outbox.js'
import { fakeTransport, ids, items, manualClock, memoryStore, settle } from './doubles.js'

function setup(options = {}, answers = []) {
  const transport = fakeTransport(answers), store = memoryStore(), now = manualClock()
  let online = true
  const outbox = createOutbox({ transport, store, now, random: () => 0.5, online: () => online,
    context: () => ({ session: 's1', release: 'r1', online }), batchSize: 3, flushInterval: 5000, ...options })
  return { outbox, transport, store, now, setOnline: v => { online = v } }
}

test('a full batch is sent at once, in protocol shape', async () => {
  const { outbox, transport, now } = setup()
  for (const it of items(3)) outbox.push(it)
  await settle()
  assert.equal(transport.sent.length, 1)
  const [env] = transport.sent
  assert.deepEqual(Object.keys(env), ['sent_at', 'context', 'lost', 'items'])
  assert.deepEqual(env.lost, {})
  assert.equal(env.sent_at, now())
  assert.deepEqual(env.context, { session: 's1', release: 'r1', online: true })
  assert.deepEqual(ids(transport.sent), ['x.0', 'x.1', 'x.2'])
})

test('a partial batch waits for the interval', async () => {
  const { outbox, transport, now } = setup()
  outbox.push(items(1)[0])
  outbox.tick()
  await settle()
  assert.equal(transport.sent.length, 0)
  now.advance(5000)
  outbox.tick()
  await settle()
  assert.deepEqual(ids(transport.sent), ['x.0'])
})

test('flush sends everything in batches of batchSize and then settles', async () => {
  const { outbox, transport } = setup()
  for (const it of items(7)) outbox.push(it)
  await outbox.flush()
  assert.deepEqual(transport.sent.map(e => e.items.length), [3, 3, 1])
  assert.deepEqual(ids(transport.sent), items(7).map(i => i.id))
})

test('durations go out rounded to 0.01 ms; other numbers untouched', async () => {
  const { outbox, transport } = setup()
  outbox.push({ id: 'a', type: 'operation', ts: 1.5, name: 'n', ms: 12.345678, expected_ms: 0.30000000000000004 })
  outbox.push({ id: 'b', type: 'measurement', ts: 2, name: 'v', value: 0.001234 })
  await outbox.flush()
  const [a, b] = transport.sent[0].items
  assert.equal(a.ms, 12.35)
  assert.equal(a.expected_ms, 0.3)
  assert.equal(a.ts, 1.5)
  assert.equal(b.value, 0.001234)
})

test('a full queue drops new items and reports them as lost with the next batch', async () => {
  const { outbox, transport } = setup({ maxQueue: 2, batchSize: 10 })
  assert.deepEqual(items(4).map(i => outbox.push(i)), [true, true, false, false])
  await outbox.flush()
  assert.deepEqual(transport.sent[0].lost, { queue_full: 2 })
  outbox.push(items(1, 10)[0])
  await outbox.flush()
  assert.deepEqual(transport.sent[1].lost, {}, 'counted once, then reset')
})

test('the rate cap allows a burst, then refills over time', async () => {
  const { outbox, transport, now } = setup({ rateLimit: 10, rateBurst: 5, batchSize: 100 })
  const pushed = items(8).map(i => outbox.push(i))
  assert.deepEqual(pushed, [true, true, true, true, true, false, false, false])
  now.advance(200)
  assert.deepEqual(items(3, 100).map(i => outbox.push(i)), [true, true, false])
  await outbox.flush()
  assert.deepEqual(transport.sent[0].lost, { rate_limited: 4 })
})

test('offline, batches are kept in the store and replayed once, in order, when back online', async () => {
  const { outbox, transport, store, setOnline } = setup()
  setOnline(false)
  for (const it of items(5)) outbox.push(it)
  await outbox.flush()
  assert.equal(transport.sent.length, 0)
  assert.equal((await store.list()).length, 2)
  setOnline(true)
  outbox.wake()
  await outbox.flush()
  assert.deepEqual(ids(transport.sent), items(5).map(i => i.id))
  assert.equal((await store.list()).length, 0)
  assert.equal(transport.sent[0].context.online, false, 'a kept batch keeps its own context')
  await outbox.flush()
  assert.equal(transport.sent.length, 2, 'nothing is sent twice')
})

test('kept batches are replayed on the next tick even while a partial batch waits', async () => {
  const { outbox, transport, store } = setup()
  await store.add({ context: { session: 'old' }, lost: {}, items: items(2, 50) }, 100)
  outbox.push(items(1)[0])
  outbox.tick()
  await settle()
  assert.deepEqual(ids(transport.sent), ['x.50', 'x.51'])
  assert.equal(transport.sent[0].context.session, 'old')
  assert.equal((await store.list()).length, 0)
})

test('429 and 503 are retried after Retry-After, with the same ids', async () => {
  const { outbox, transport, store, now } = setup({}, [{ status: 429, retryAfter: 30 }, { status: 503, retryAfter: 10 }])
  for (const it of items(3)) outbox.push(it)
  await settle()
  assert.equal(transport.sent.length, 1)
  assert.equal((await store.list()).length, 1, 'kept while waiting')
  now.advance(29_000)
  outbox.tick()
  await settle()
  assert.equal(transport.sent.length, 1, 'not before Retry-After')
  now.advance(1_000)
  outbox.tick()
  await settle()
  assert.equal(transport.sent.length, 2)
  now.advance(9_000)
  outbox.tick()
  await settle()
  assert.equal(transport.sent.length, 2)
  now.advance(1_000)
  outbox.tick()
  await settle()
  assert.equal(transport.sent.length, 3)
  assert.deepEqual(ids(transport.sent.slice(0, 1)), ids(transport.sent.slice(2)))
  assert.equal((await store.list()).length, 0)
})

test('while the server asks to wait, new batches are kept, not sent', async () => {
  const { outbox, transport, store } = setup({}, [{ status: 503, retryAfter: 60 }])
  for (const it of items(6)) outbox.push(it)
  await outbox.flush()
  assert.equal(transport.sent.length, 1)
  assert.equal((await store.list()).length, 2)
})

test('going back online retries network failures at once, but not a server Retry-After', async () => {
  const net = setup({}, [{ status: 'throw' }])
  for (const it of items(3)) net.outbox.push(it)
  await settle()
  net.outbox.wake()
  await settle()
  assert.equal(net.transport.sent.length, 2)

  const told = setup({}, [{ status: 429, retryAfter: 60 }])
  for (const it of items(3)) told.outbox.push(it)
  await settle()
  told.outbox.wake()
  await settle()
  assert.equal(told.transport.sent.length, 1)
})

test('other 4xx answers drop the batch and count it as invalid', async () => {
  const { outbox, transport, store } = setup({}, [{ status: 400 }])
  for (const it of items(3)) outbox.push(it)
  await outbox.flush()
  assert.equal((await store.list()).length, 0)
  outbox.push(items(1, 50)[0])
  await outbox.flush()
  assert.deepEqual(transport.sent[1].lost, { invalid: 3 })
})

test('the store is bounded: the oldest batches go first and are counted', async () => {
  const { outbox, transport, setOnline } = setup({ maxStored: 4 })
  setOnline(false)
  for (const it of items(9)) outbox.push(it)
  await outbox.flush()
  setOnline(true)
  outbox.push(items(1, 99)[0])
  await outbox.flush()
  const overflow = transport.sent.reduce((n, e) => n + ((e.lost || {}).offline_overflow || 0), 0)
  assert.equal(overflow, 6)
  assert.deepEqual(ids(transport.sent).sort(), ['x.6', 'x.7', 'x.8', 'x.99'])
})

test('lost counts travel with a kept batch', async () => {
  const { outbox, transport, setOnline } = setup({ maxQueue: 1, batchSize: 10 })
  setOnline(false)
  outbox.push(items(1)[0])
  outbox.push(items(1, 1)[0])
  await outbox.flush()
  setOnline(true)
  await outbox.flush()
  assert.deepEqual(transport.sent[0].lost, { queue_full: 1 })
})

test('on page hide the queue goes by beacon, or to the store when beacons fail', async () => {
  const { outbox, transport, store } = setup({ batchSize: 10 })
  for (const it of items(4)) outbox.push(it)
  outbox.hide()
  assert.deepEqual(ids(transport.beacons), ['x.0', 'x.1', 'x.2', 'x.3'])
  transport.beaconOk = false
  outbox.push(items(1, 9)[0])
  outbox.hide()
  await settle()
  assert.equal((await store.list()).length, 1)
  assert.equal(transport.sent.length, 0)
})

test('backoff doubles per attempt with jitter, caps at 60 s and honours Retry-After', () => {
  assert.equal(backoff(1, 0, () => 0), 500)
  assert.equal(backoff(1, 0, () => 1), 1000)
  assert.equal(backoff(3, 0, () => 1), 4000)
  assert.equal(backoff(20, 0, () => 1), 60000)
  assert.equal(backoff(1, 120, () => 1), 120000)
  assert.equal(backoff(1, 1e9, () => 1), 3600000, 'a silly Retry-After is capped at an hour')
})

test('Retry-After is read as seconds or as an HTTP date', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  assert.equal(parseRetryAfter('7', now), 7)
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30)
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0)
  assert.equal(parseRetryAfter(null, now), 0)
  assert.equal(parseRetryAfter('soon', now), 0)
})
