// The worker build's entry (/sdk/wasmwatch.worker.js): the global `WasmWatch` inside a worker.
//
// Started by the page's wrapper (workers.js; its config rides in location.hash) it instruments
// the worker and relays every item to the page's client: one session, one queue, one outbox.
// Loaded by the app itself where there is no page client (a service worker, a shared worker, a
// worker made before init()), `WasmWatch.init({endpoint, key})` starts a client of its own.
import { WasmWatch, init } from './index.js'

const G = globalThis

/** An outbox that posts to the page (same methods as createOutbox's). */
export function relay(ch, wait = 5000) {
  const post = d => ch.postMessage(d), waits = new Map()
  ch.onmessage = e => {
    const done = waits.get(e.data && e.data.f)
    if (done) done()
  }
  const flush = () => new Promise(ok => {
    const token = Math.random() + ''
    const done = () => { waits.delete(token); clearTimeout(timer); ok() }
    const timer = setTimeout(done, wait)
    waits.set(token, done)
    post({ f: token })
  })
  const nothing = () => {}
  return { push: item => (post(item), true), lose: (lost, n = 1) => post({ lost, n }),
    urgent: () => post({ u: 1 }), flush, tick: nothing, wake: nothing, hide: nothing }
}

/**
 * A worker wrapped from a URL runs at a blob: URL, against which relative URLs do not resolve:
 * resolve them against the script's own URL again (fetch, importScripts, XHR, nested workers,
 * and `location` itself).
 */
export function rebase(G, base) {
  const abs = u => (typeof u == 'string' ? new URL(u, base).href : u)
  const patch = (obj, k, f) => { const o = obj && obj[k]; if (o) obj[k] = f(o) }
  patch(G, 'fetch', f => function (u, o) { return f.call(this, abs(u), o) })
  patch(G, 'importScripts', f => (...urls) => f(...urls.map(abs)))
  patch(G.XMLHttpRequest && G.XMLHttpRequest.prototype, 'open',
    f => function (m, u, ...rest) { return f.call(this, m, abs(u), ...rest) })
  patch(G, 'Worker', W => {
    function Worker(u, o) { return Reflect.construct(W, [abs(u), o], new.target) }
    Worker.prototype = W.prototype
    return Worker
  })
  shadow(G, base)
}

/** `location` as the app's script would see it unwrapped (where the engine lets us). */
function shadow(G, url) {
  try {
    Object.defineProperty(G, 'location', { value: new URL(url), configurable: true })
  } catch {}
}

/** Starts from the wrapper's config when there is one (the page made this worker). */
export function startFromHash(G) {
  const h = /#wasmwatch=(.*)/.exec(G.location.hash)
  if (!h) return
  const c = JSON.parse(decodeURIComponent(h[1])), ch = new G.BroadcastChannel(c.ch)
  // The wrapper calls this once the app's script has run (or failed): the page may then let
  // go of the app's blob URL, and knows that wrapping works.
  G.__wasmwatch_up = () => { delete G.__wasmwatch_up; ch.postMessage({ up: c.url || 1 }) }
  if (!c.url) return G.__wasmwatch_up() // the page's probe
  if (/^blob:/.test(c.url)) shadow(G, c.url)
  else rebase(G, c.url)
  init({ ...c, sampleRate: 1, workers: false, transport: 0, _outbox: relay(ch) })
}

// Loaded twice (the page wrapped a worker that also has the one-line opt-in): the first stays.
if (!G.WasmWatch) {
  G.WasmWatch = WasmWatch
  try {
    startFromHash(G)
  } catch {}
}
