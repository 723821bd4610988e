// The dashboard's view state: what is shown (window or zoomed range, filters, page) and what
// was last loaded. One object, changed only through setView() in app.js.

export const WINDOWS = { '5m': 'Last 5 minutes', '1h': 'Last hour', '24h': 'Last 24 hours', '7d': 'Last 7 days', '30d': 'Last 30 days' }
export const FILTERS = ['release', 'browser', 'operation']
export const PAGES = ['overview', 'releases', 'insights', 'server', 'session']

export const state = {
  token: '',
  project: 'default', // every query and the live stream read this project only
  projects: [],
  window: '1h',
  range: null, // {from, to} in epoch ms when zoomed to a custom range, else null
  filters: { release: '', browser: '', operation: '' },
  page: 'overview',
  session: '', // the session shown on the session page
  gen: 0, // bumped when the view changes; answers for an older view are dropped
  summary: null,
  catalog: { release: new Set(), browser: new Set(), operation: new Set() },
  expanded: new Set(),
  running: false,
}

/** Query parameters of the current view: the zoomed range if any, else the window. */
export function params (extra = {}) {
  const span = state.range ? { from: state.range.from, to: state.range.to } : { window: state.window }
  return { project: state.project, ...span, ...state.filters, ...extra }
}
