// Page-side worker support, built alone as /sdk/wasmwatch.page-workers.js and imported by the
// page's client after init() (so the page build stays small). From then on dedicated workers
// start with the worker build (/sdk/wasmwatch.worker.js), which instruments the worker and
// posts its items back to the page over a BroadcastChannel; the app's script then runs as is.
//
// A wrapper is a blob URL: `importScripts(sdk, app)` (classic) or `import sdk; import app`
// (module), where `sdk` is a blob of the worker build fetched once here, so a worker never waits
// on the network for it. Its #fragment carries the config. Workers are wrapped only once a probe
// worker has shown that the page may start blob workers (CSP); until then, and always for
// cross-origin and data: URLs, `new Worker` is the browser's own.
import { rid } from './session.js'

const UP = ';self.__wasmwatch_up&&__wasmwatch_up()'

/**
 * Starts wrapping G.Worker (once the worker build is fetched and the probe answered); returns a
 * function that puts everything back. What workers post goes to the page's outbox: items,
 * {lost, n}, {u: 1} (urgent), {f: token} (flush; answered with the same message). Never throws.
 */
export function wrapWorkers(G, cfg, base, outbox) {
  const W = G.Worker, U = G.URL, J = JSON.stringify, held = new Map()
  if (!W || !G.BroadcastChannel) return () => {}
  const name = 'wasmwatch.' + rid(8), ch = new G.BroadcastChannel(name), revoke = U.revokeObjectURL
  let sdk, probe, closed = false
  // An uncaught error of a worker goes to its Worker object, then (unless cancelled) to the
  // page's global, within the task: the page's client skips that echo (the worker reported it).
  const echo = e => {
    G.__wasmwatch_echo = e.message
    setTimeout(() => { G.__wasmwatch_echo = 0 })
  }
  const blob = text => U.createObjectURL(new Blob([text], { type: 'text/javascript' }))
  // The page's session (session.js keeps it there), for the workers' traced requests (trace.js)
  let _session
  try { _session = G.sessionStorage.getItem('wasmwatch.session') } catch {}
  const start = url => '#wasmwatch=' + encodeURIComponent(J({ ...cfg, transport: 0, ch: name, url, _session }))

  ch.onmessage = e => {
    const d = e.data
    if (!d || !d.up) {
      return d.id ? outbox.push(d) : d.lost ? outbox.lose(d.lost, d.n) : d.u ? outbox.urgent()
        : d.f && outbox.flush().then(() => ch.postMessage(d))
    }
    if (probe) {
      probe = probe.terminate()
      G.Worker = Worker
    }
    if (held.get(d.up)) revoke.call(U, d.up)
    held.delete(d.up)
  }
  // An app that revokes its blob URL right after new Worker(): kept until the worker loaded it.
  U.revokeObjectURL = u => (held.has(u) ? held.set(u, 1) : revoke.call(U, u))

  function Worker(url, opts) {
    let args = arguments, b
    try {
      const a = new U(url, location.href), mod = opts && opts.type == 'module'
      if (a.origin == location.origin) {
        b = blob(mod ? `import${J(sdk)};import${J(a.href)}${UP}` : `importScripts(${J(sdk)},${J(a.href)})${UP}`)
        args = [b + start(a.href), opts]
        if (a.protocol == 'blob:') held.set(a.href, 0)
      }
    } catch {}
    const w = Reflect.construct(W, args, new.target)
    if (b) {
      revoke.call(U, b)
      w.addEventListener('error', echo)
    }
    return w
  }
  Worker.prototype = W.prototype

  fetch(base + 'wasmwatch.worker.js').then(r => r.ok && r.text()).then(text => {
    if (!text || closed) return
    sdk = blob(text)
    probe = new W(sdk + start())
  }).catch(() => {})

  return () => {
    closed = true
    if (G.Worker == Worker) G.Worker = W
    U.revokeObjectURL = revoke
    ch.close()
    if (probe) probe.terminate()
  }
}
