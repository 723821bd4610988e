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

/** Batches in IndexedDB database `name`, object store `b`, auto-incremented keys (oldest first). */
export function idbStore(name = 'wasmwatch') {
  let db
  // Runs f(objectStore, setResult) in one transaction; resolves once it is committed.
  const run = (mode, f) => (db = db || new Promise((ok, fail) => {
    const r = indexedDB.open(name, 1)
    r.onupgradeneeded = () => r.result.createObjectStore('b', { autoIncrement: true })
    r.onsuccess = () => ok(r.result)
    r.onerror = () => fail(r.error)
  })).then(d => new Promise((ok, fail) => {
    const t = d.transaction('b', mode)
    let out
    f(t.objectStore('b'), v => { out = v })
    t.oncomplete = () => ok(out)
    t.onerror = t.onabort = () => fail(t.error)
  }))
  // Calls end([[key, batch], ...]) with every record, oldest first (requests of a transaction
  // complete in order: the keys are in when the values are).
  const all = (s, end) => {
    const keys = s.getAllKeys(), values = s.getAll()
    values.onsuccess = () => end(keys.result.map((k, i) => [k, values.result[i]]))
  }
  return {
    add: (batch, max) => run('readwrite', (s, out) => {
      s.add(batch)
      all(s, recs => {
        const [drop, dropped] = overflow(recs.map(([k, b]) => [k, b.items.length]), max)
        drop.forEach(k => s.delete(k))
        out(dropped)
      })
    }),
    list: () => run('readonly', all),
    remove: key => run('readwrite', s => s.delete(key)),
  }
}
