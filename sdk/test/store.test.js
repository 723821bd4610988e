import { test } from 'node:test'
import assert from 'node:assert/strict'
import { memoryStore, overflow } from '../src/store.js'

const batch = (n, tag) => ({ context: {}, lost: {}, items: Array.from({ length: n }, (_, i) => ({ id: `${tag}.${i}` })) })

test('overflow picks the oldest batches until at most max items remain', () => {
  assert.deepEqual(overflow([[1, 3], [2, 3], [3, 3]], 6), [[1], 3])
  assert.deepEqual(overflow([[1, 3], [2, 3], [3, 3]], 2), [[1, 2, 3], 9])
  assert.deepEqual(overflow([[1, 3]], 3), [[], 0])
  assert.deepEqual(overflow([], 0), [[], 0])
})

test('the memory store keeps batches oldest first, bounded, and removes by key', async () => {
  const store = memoryStore()
  assert.equal(await store.add(batch(2, 'a'), 5), 0)
  assert.equal(await store.add(batch(2, 'b'), 5), 0)
  assert.equal(await store.add(batch(2, 'c'), 5), 2, 'a is dropped')
  const recs = await store.list()
  assert.deepEqual(recs.map(([, b]) => b.items[0].id), ['b.0', 'c.0'])
  await store.remove(recs[0][0])
  assert.deepEqual((await store.list()).map(([, b]) => b.items[0].id), ['c.0'])
})
