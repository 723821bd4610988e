// Where batches wait while they cannot be sent: IndexedDB in the browser, an array in tests.
// Both bound the number of stored items and drop the oldest batches first.

/** Keys of the oldest batches to drop so that at most `max` items remain. */
export function overflow(sizes, max) {
  let total = sizes.reduce((a, [, n]) => a + n, 0), drop = [], dropped = 0
  for (const [key, n] of sizes) {
    if (total <= max) break
    total -= n
    dropped += n
    drop.push(key)
  }
  return [drop, dropped]
}

/** The in-memory double: same contract as the IndexedDB store. */
export function memoryStore() {
  let seq = 0, recs = []
  return {
    async add(batch, max) {
      recs.push([++seq, batch])
      const [drop, dropped] = overflow(recs.map(([k, b]) => [k, b.items.length]), max)
      recs = recs.filter(([k]) => !drop.includes(k))
      return dropped
    },
    list: async () => recs.slice(),
    async remove(key) { recs = recs.filter(([k]) => k != key) },
  }
}

const req = r => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error) })

/** Batches in IndexedDB database `name`, object store `b`, auto-incremented keys (oldest first). */
export function idbStore(name = 'wasmwatch') {
  let db
  const open = () => db || (db = new Promise((ok, fail) => {
    const r = indexedDB.open(name, 1)
    r.onupgradeneeded = () => r.result.createObjectStore('b', { autoIncrement: true })
    r.onsuccess = () => ok(r.result)
    r.onerror = r.onblocked = () => fail(r.error)
  }))
  const os = async mode => (await open()).transaction('b', mode).objectStore('b')
  const list = async () => {
    const s = await os('readonly')
    const [keys, vals] = await Promise.all([req(s.getAllKeys()), req(s.getAll())])
    return keys.map((k, i) => [k, vals[i]])
  }
  return {
    async add(batch, max) {
      await req((await os('readwrite')).add(batch))
      const [drop, dropped] = overflow((await list()).map(([k, b]) => [k, b.items.length]), max)
      if (drop.length) {
        const s = await os('readwrite')
        await Promise.all(drop.map(k => req(s.delete(k))))
      }
      return dropped
    },
    list,
    remove: async key => req((await os('readwrite')).delete(key)),
  }
}
