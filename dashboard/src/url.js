// The view in the address bar (#window=1h&operation=render&page=releases, or from/to when
// zoomed), so a view can be shared and survives a reload. The token never stays there (api.js).
import { FILTERS, PAGES, WINDOWS, state } from './state.js'

const STORE_KEY = 'wasmwatch.view'
const int = v => (/^\d{1,15}$/.test(v || '') ? Number(v) : null)

/**
 * Apply a hash to the state. The hash is the whole view: a filter it lacks is off. Only an
 * address without any view in it falls back to the last view kept in localStorage.
 */
export function readView (hash = location.hash) {
  const q = new URLSearchParams(hash.replace(/^#/, ''))
  const given = ['window', 'from', 'page', 'project', ...FILTERS].some(k => q.has(k))
  if (!given) {
    try {
      const kept = JSON.parse(localStorage.getItem(STORE_KEY) || '{}')
      if (WINDOWS[kept.window]) state.window = kept.window
      for (const f of FILTERS) if (typeof kept[f] === 'string') state.filters[f] = kept[f]
    } catch { /* a broken stored view is ignored */ }
  } else {
    for (const f of FILTERS) state.filters[f] = q.get(f) || ''
  }
  if (WINDOWS[q.get('window')]) state.window = q.get('window')
  const from = int(q.get('from'))
  const to = int(q.get('to'))
  state.range = from !== null && to !== null && from < to ? { from, to } : null
  if (q.get('project')) state.project = q.get('project')
  state.page = PAGES.includes(q.get('page')) ? q.get('page') : 'overview'
  state.session = q.get('session') || ''
}

/** The hash of the current view (without the token). */
export function viewHash () {
  const q = new URLSearchParams()
  if (state.project !== 'default') q.set('project', state.project)
  if (state.range) { q.set('from', String(state.range.from)); q.set('to', String(state.range.to)) } else q.set('window', state.window)
  for (const f of FILTERS) if (state.filters[f]) q.set(f, state.filters[f])
  if (state.page !== 'overview') q.set('page', state.page)
  if (state.page === 'session' && state.session) q.set('session', state.session)
  return '#' + q.toString()
}

/** Put the view in the address bar (a history entry per change) and in localStorage. */
export function writeView ({ push = true } = {}) {
  const hash = viewHash()
  if (hash !== location.hash) history[push ? 'pushState' : 'replaceState'](null, '', location.pathname + location.search + hash)
  try { localStorage.setItem(STORE_KEY, JSON.stringify({ window: state.window, ...state.filters })) } catch { /* private mode */ }
}
