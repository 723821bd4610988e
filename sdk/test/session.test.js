import { test } from 'node:test'
import assert from 'node:assert/strict'
import { draw, rid, sampled, sessionId } from '../src/session.js'

test('rid makes ids of [0-9a-z] of the asked length, different each time', () => {
  const a = rid(16), b = rid(16)
  assert.match(a, /^[0-9a-z]{16}$/)
  assert.notEqual(a, b)
})

test('sampling is decided once per session id', () => {
  const id = rid(16)
  assert.equal(sampled(id, 0.5), sampled(id, 0.5))
  assert.equal(sampled(id, 0), false)
  assert.equal(sampled(id, 1), true)
  assert.equal(sampled(id, draw(id)), false)
  assert.equal(sampled(id, draw(id) + 1e-9), true)
})

test('a sample rate keeps about that share of sessions', () => {
  let kept = 0
  for (let i = 0; i < 4000; i++) kept += sampled(rid(16), 0.25)
  assert.ok(kept > 800 && kept < 1200, String(kept))
})

test('the session id lives in the given storage, and survives its failure', () => {
  const map = new Map()
  const storage = { getItem: k => map.get(k) ?? null, setItem: (k, v) => map.set(k, v) }
  const id = sessionId(storage)
  assert.equal(sessionId(storage), id)
  assert.match(sessionId({ getItem() { throw new Error('denied') } }), /^[0-9a-z]{16}$/)
  assert.match(sessionId(undefined), /^[0-9a-z]{16}$/)
})
