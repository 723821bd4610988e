// The live stream (SSE /api/v1/stream): a status light, an items/s counter, and a callback
// when new items arrive. Reconnects by itself; a closed stream checks whether the token went bad.
import { Unauthorized, get } from './api.js'
import { $ } from './dom.js'
import * as fmt from './format.js'

const RATE_SPAN_MS = 10000 // the items/s counter averages over this span

/**
 * `onData()` runs when items arrive; `events` maps other SSE event names (e.g. 'alert') to a
 * handler of their data.
 */
export function createLive ({ token, project, onData, onUnauthorized, isRunning, events = {} }) {
  let source = null
  let retryTimer = null
  let arrivals = [] // [receivedAt, items]
  let since = 0

  function setState (name, label) {
    $('live').dataset.state = name
    $('live-label').textContent = label
  }

  function tick () {
    const now = Date.now()
    arrivals = arrivals.filter(([t]) => now - t < RATE_SPAN_MS)
    const n = arrivals.reduce((sum, [, k]) => sum + k, 0)
    const span = Math.min(RATE_SPAN_MS, Math.max(1000, now - since)) / 1000
    $('rate').textContent = fmt.rate(source ? n / span : 0)
  }
  setInterval(tick, 1000)

  function retry () { retryTimer = setTimeout(() => isRunning() && start(), 5000) }

  function start () {
    stop()
    since = Date.now()
    setState('connecting', 'connecting')
    source = new EventSource('/api/v1/stream?token=' + encodeURIComponent(token()) +
      '&project=' + encodeURIComponent(project()))
    source.onopen = () => setState('on', 'live')
    source.addEventListener('items', event => {
      let update = null
      try { update = JSON.parse(event.data) } catch { return }
      arrivals.push([Date.now(), update && typeof update.items === 'number' ? update.items : 0])
      const el = $('live')
      el.classList.remove('pulse')
      void el.offsetWidth // restart the pulse animation
      el.classList.add('pulse')
      tick()
      onData()
    })
    for (const [name, handler] of Object.entries(events)) source.addEventListener(name, event => handler(event.data))
    source.onerror = () => {
      if (!source || source.readyState !== EventSource.CLOSED) { setState('connecting', 'reconnecting'); return }
      stop() // closed for good (a non-200 answer): find out whether the token went bad
      get(token(), '/api/v1/summary', { project: project(), window: '5m' })
        .then(retry)
        .catch(err => { if (err instanceof Unauthorized) onUnauthorized(); else retry() })
    }
  }

  function stop () {
    clearTimeout(retryTimer)
    if (source) { source.close(); source = null }
    arrivals = []
    setState('off', 'offline')
    tick()
  }

  return { start, stop }
}
