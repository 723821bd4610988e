"""Page scripts more than one browser test runs (each is a JS function for ``evaluate``)."""

#: how many items the SDK keeps in IndexedDB, waiting to be sent
STORED_ITEMS = """() => new Promise((ok, fail) => {
  const r = indexedDB.open('wasmwatch', 1)
  r.onupgradeneeded = () => r.result.createObjectStore('b', { autoIncrement: true })
  r.onsuccess = () => {
    const all = r.result.transaction('b').objectStore('b').getAll()
    all.onsuccess = () => { ok(all.result.reduce((n, b) => n + b.items.length, 0)); r.result.close() }
  }
  r.onerror = () => fail(r.error)
})"""

#: four batches of 25 measurements with 16 random tags each (tens of KB a batch), each flushed
#: before the next is measured
BIG_BATCHES = """async () => {
  const noise = () => Array.from({ length: 8 }, () => Math.random().toString(36).slice(2)).join('')
  for (let b = 0; b < 4; b++) {
    for (let i = 0; i < 25; i++) {
      const tags = Object.fromEntries(Array.from({ length: 16 }, (_, k) => ['t' + k, noise()]))
      ww.measure('big', b * 100 + i, tags)
    }
    await ww.flush()
  }
}"""
