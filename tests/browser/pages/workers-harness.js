// Driven by tests/browser/test_workers.py: ?endpoint=&key= name the server (another origin).
// The SDK loads its worker support from that server (/sdk/wasmwatch.page-workers.js).
const q = new URLSearchParams(location.search)
const wrapped = () => !/native code/.test(String(Worker))
window.harness = {
  init(extra) {
    window.ww = WasmWatch.init({ endpoint: q.get('endpoint'), key: q.get('key'), release: 'test-1',
      flushInterval: 60000, ...extra })
    return true
  },
  wrapped,
  // A worker of the app's own; ask(op, ...args) posts [op, ...args] and waits for the answer.
  start(url, opts) {
    const w = new Worker(url, opts)
    const ask = (...msg) => new Promise((ok, fail) => {
      w.onmessage = e => ok(e.data)
      w.onerror = e => ok({ error: e.message })
      w.postMessage(msg)
    })
    window.worker = { w, ask }
    return w instanceof Worker
  },
  ask: (...msg) => window.worker.ask(...msg),
}
