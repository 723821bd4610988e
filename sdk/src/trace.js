// W3C trace context for the app's own requests: while an operation runs (ww.track, wrapped
// exports), the app's same-origin fetch calls carry `traceparent` (the operation's trace id, a
// new span id per request, sampled) and `X-WasmWatch-Session`, so its server's spans join the
// operation. Never on other origins: a new request header there would need a CORS preflight.
//
// Browsers have no async context yet: while an async operation is pending, a same-origin fetch
// made anywhere on the page is taken as the latest pending operation's.
import { rid } from './session.js'

/**
 * Wraps G.fetch. `open` holds the operations running now (an object each; `t` is set to its
 * trace id at its first traced request). Returns a function that restores G.fetch.
 */
export function traceFetch(G, session, open) {
  const orig = G.fetch
  const f = G.fetch = function (input, init) {
    let op, h
    for (op of open);
    try {
      if (op && new URL(input.url || input, location).origin == location.origin) {
        h = new Headers(init && init.headers || input.headers)
        h.has('traceparent') || h.set('traceparent', `00-${op.t ||= rid(32, 16)}-${rid(16, 16)}-01`)
        h.set('X-WasmWatch-Session', session)
        init = { ...init, headers: h }
      }
    } catch {}
    return orig.call(this, input, init)
  }
  return () => { if (G.fetch == f) G.fetch = orig }
}
