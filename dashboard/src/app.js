// The wasmwatch dashboard: wiring. The view state is in state.js (and the address bar, url.js);
// this module signs in, loads what the current page needs, and hands answers to the renderers
// (tiles.js, tables.js, errors.js, releases.js, charts.js). Talks only to this server's admin API.
import { ApiError, Unauthorized, clearToken, get, loadToken, post, saveToken } from './api.js'
import * as alertsView from './alerts.js'
import * as charts from './charts.js'
import { $, fill, h } from './dom.js'
import { renderErrors } from './errors.js'
import * as fmt from './format.js'
import { createLive } from './live.js'
import { renderBackend } from './backend.js'
import { renderInsights } from './insights.js'
import { renderReleasesView } from './releases.js'
import { renderSession } from './session.js'
import { FILTERS, PAGES, WINDOWS, params, state } from './state.js'
import { renderBundleReleases, renderFeatures, renderOperations } from './tables.js'
import { renderTiles } from './tiles.js'
import { readView, writeView } from './url.js'

const SUMMARY_EVERY_MS = 2000 // at most one summary + errors refresh per 2 s while data arrives
const DETAIL_EVERY_MS = 10000 // charts and the releases page: at most every 10 s
const PERIODIC_MS = 30000 // everything, so a rolling window rolls even when nothing arrives

const live = createLive({
  token: () => state.token,
  project: () => state.project,
  onData: () => onLiveData(),
  onUnauthorized: () => unauthorized(),
  isRunning: () => state.running,
  events: { alert: data => alertsView.onEvent(data) },
})

// ---------------------------------------------------------------- view changes

/** Change the view (window, range, filters, page, session), record it in the URL, reload. */
function setView (change, { push = true } = {}) {
  if (change.window) { state.window = change.window; state.range = null }
  if (change.project && change.project !== state.project) {
    state.project = change.project
    for (const f of FILTERS) { state.filters[f] = ''; state.catalog[f] = new Set() }
    live.start()
  }
  if ('range' in change) state.range = change.range
  for (const f of FILTERS) if (f in change) state.filters[f] = change[f]
  if (change.page) state.page = change.page
  if ('session' in change) state.session = change.session
  state.gen++
  writeView({ push })
  renderControls()
  refreshAll({ catalog: true })
}

charts.setZoomHandler((from, to) => setView({ range: { from, to } }))

// ---------------------------------------------------------------- auth

function showLogin (message) {
  state.running = false
  live.stop()
  alertsView.stop()
  for (const id of ['app', 'controls', 'logout', 'pages']) $(id).hidden = true
  $('login').hidden = false
  const err = $('login-error')
  err.hidden = !message
  err.textContent = message || ''
  const input = $('token')
  input.value = ''
  input.focus()
}

function unauthorized () {
  clearToken()
  state.token = ''
  showLogin('The admin token was not accepted. Enter it again.')
}

/**
 * Check the token with one request before starting everything: a wrong token then costs one
 * failed attempt (the server locks an address out after a few), not one per panel.
 */
async function boot () {
  try {
    await get(state.token, '/api/v1/summary', { project: state.project, window: '5m' })
  } catch (err) {
    if (err instanceof Unauthorized) { unauthorized(); return }
    banner(`Could not reach the server: ${err && err.message ? err.message : err}`)
  }
  start()
}

function start () {
  state.running = true
  $('login').hidden = true
  for (const id of ['app', 'controls', 'logout', 'pages']) $(id).hidden = false
  writeView({ push: false })
  renderControls()
  refreshAll({ catalog: true })
  alertsView.start(state.token, unauthorized)
  live.start()
  loadProjects()
}

/** The project menu: shown once there is more than one project. */
async function loadProjects () {
  try {
    const answer = await get(state.token, '/api/v1/projects', {})
    state.projects = ((answer && answer.projects) || []).map(p => p.id)
  } catch (err) {
    if (err instanceof Unauthorized) unauthorized()
    return
  }
  const select = $('f-project')
  fill(select, state.projects.map(id => h('option', { value: id }, id)))
  select.value = state.project
  select.hidden = state.projects.length < 2 && state.projects[0] === state.project
}

// ---------------------------------------------------------------- loading

function failed (err, what) {
  if (err instanceof Unauthorized) { unauthorized(); return true }
  banner(`Could not load ${what}: ${err && err.message ? err.message : err}`)
  if (!(err instanceof ApiError)) console.error(err)
  return false
}

/** A refresher that runs one load at a time, again once if asked meanwhile, and remembers when. */
function serial (load) {
  let busy = false
  let again = false
  const run = async () => {
    if (!state.running) return
    if (busy) { again = true; return }
    busy = true
    run.last = Date.now()
    try { await load(state.gen) } finally {
      busy = false
      if (again) { again = false; run() }
    }
  }
  run.last = 0
  return run
}

// The summary and the error groups load and render together, so the tiles and the errors
// table always describe the same moment.
const refreshSummary = serial(async gen => {
  if (state.page !== 'overview') return
  try {
    const [summary, errors] = await Promise.all([
      get(state.token, '/api/v1/summary', params({ compare: true })),
      get(state.token, '/api/v1/errors', params({ limit: 50 })),
    ])
    if (gen !== state.gen || !state.running) return
    state.summary = summary
    learn(summary)
    renderSummary()
    renderErrors(errors, { expanded: state.expanded, onState: changeState, onSession: session => setView({ page: 'session', session }) })
    banner('')
  } catch (err) { failed(err, 'the summary') }
})

const refreshDetail = serial(async gen => {
  let tasks = []
  if (state.page === 'overview') {
    tasks = charts.METRICS.map(metric => get(state.token, '/api/v1/series', params({ metric }))
      .then(answer => { if (gen === state.gen) charts.draw(metric, answer) }))
  } else if (state.page === 'releases') {
    const { release, ...rest } = params() // every release is shown side by side
    tasks = [get(state.token, '/api/v1/releases', rest)
      .then(answer => { if (gen === state.gen) renderReleasesView(answer) })]
  } else if (state.page === 'insights') {
    const { operation, ...rest } = params() // per session: an operation filter does not apply
    tasks = [get(state.token, '/api/v1/insights', rest).then(answer => { if (gen === state.gen) renderInsights(answer) })]
  } else if (state.page === 'server') {
    const { project, from, to, window } = params() // client filters do not apply to server routes
    const span = { project, from, to, window }
    tasks = [Promise.all([get(state.token, '/api/v1/linked', span), get(state.token, '/api/v1/routes', span)])
      .then(([linked, routes]) => { if (gen === state.gen) renderBackend(linked, routes) })]
  } else if (state.page === 'session') {
    tasks = state.session
      ? [get(state.token, '/api/v1/session', { project: state.project, id: state.session }).then(answer => { if (gen === state.gen) renderSession(answer) })]
      : [Promise.resolve(renderSession(null))]
  }
  for (const result of await Promise.allSettled(tasks)) {
    if (result.status === 'rejected' && failed(result.reason, 'the charts')) break
  }
})

/** Mark an error group resolved, ignored or open; the store keeps it across restarts. */
async function changeState (fingerprint, to) {
  try {
    await post(state.token, '/api/v1/errors/state?project=' + encodeURIComponent(state.project), { fingerprint, state: to })
    refreshSummary()
  } catch (err) { failed(err, 'the error state') }
}

/** Releases, browsers and operations seen lately, for the filter menus. */
async function loadCatalog () {
  try {
    const answer = await get(state.token, '/api/v1/items', { project: state.project, window: state.window, limit: 200 })
    for (const row of (answer && answer.items) || []) {
      add('release', row.release)
      add('browser', row.browser)
      if (row.type === 'operation') add('operation', row.name)
    }
    renderFilterOptions()
  } catch (err) {
    if (err instanceof Unauthorized) unauthorized()
  }
}

function refreshAll ({ catalog = false } = {}) {
  if (!state.running) return
  renderPage()
  refreshSummary()
  refreshDetail()
  if (catalog) loadCatalog()
}

let summaryTimer = null
let detailTimer = null

/** New items arrived: refresh the summary within 2 s and the rest within 10 s, no more often. */
function onLiveData () {
  if (state.range) return // a zoomed range is a fixed past: nothing new lands in it
  if (!summaryTimer) {
    const wait = Math.max(0, refreshSummary.last + SUMMARY_EVERY_MS - Date.now())
    summaryTimer = setTimeout(() => { summaryTimer = null; refreshSummary() }, wait)
  }
  if (!detailTimer) {
    const wait = Math.max(0, refreshDetail.last + DETAIL_EVERY_MS - Date.now())
    detailTimer = setTimeout(() => { detailTimer = null; refreshDetail() }, wait)
  }
}

setInterval(() => {
  if (state.running && !document.hidden && !state.range) refreshAll()
}, PERIODIC_MS)

// ---------------------------------------------------------------- rendering

function banner (message) {
  const el = $('banner')
  el.hidden = !message
  el.textContent = message
}

function add (kind, value) {
  if (typeof value === 'string' && value) state.catalog[kind].add(value)
}

function learn (summary) {
  for (const release of Object.keys((summary.bundle_load && summary.bundle_load.by_release) || {})) {
    if (release !== 'unknown') add('release', release)
  }
  for (const name of Object.keys(summary.operations || {})) if (name !== 'unknown') add('operation', name)
  renderFilterOptions()
}

function renderPage () {
  for (const page of PAGES) {
    const el = $('page-' + page)
    if (el) el.hidden = page !== state.page
    const tab = document.querySelector(`#pages [data-page="${page}"]`)
    if (tab) tab.setAttribute('aria-current', page === state.page ? 'page' : 'false')
  }
}

function renderControls () {
  for (const button of $('windows').querySelectorAll('button')) {
    const on = !state.range && button.dataset.window === state.window
    button.classList.toggle('on', on)
    button.setAttribute('aria-checked', String(on))
    button.setAttribute('role', 'radio')
  }
  $('zoom').hidden = !state.range
  renderFilterOptions()
  renderPage()
}

const ALL = { release: 'All releases', browser: 'All browsers', operation: 'All operations' }

function renderFilterOptions () {
  for (const f of FILTERS) {
    const select = $('f-' + f)
    const values = new Set(state.catalog[f])
    if (state.filters[f]) values.add(state.filters[f])
    const sorted = [...values].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    const current = [...select.options].slice(1).map(o => o.value)
    if (current.join('\n') !== sorted.join('\n')) {
      fill(select, h('option', { value: '' }, ALL[f]), sorted.map(v => h('option', { value: v }, v)))
    }
    select.value = state.filters[f]
    select.classList.toggle('active', !!state.filters[f])
  }
}

function renderSummary () {
  const s = state.summary
  if (!s) return
  const approx = $('approx')
  approx.hidden = !s.approximate
  const err = typeof s.relative_error === 'number' ? s.relative_error : 0.01
  approx.textContent = `approximate (±${+(err * 100).toFixed(2)} %)`
  approx.title = 'Long windows are answered from the rollup: counts are exact, percentiles within ' + (err * 100) + ' %.'
  const active = FILTERS.filter(f => state.filters[f]).map(f => `${f} ${state.filters[f]}`)
  const label = state.range ? `Zoomed (${fmt.duration(s.to_ms - s.from_ms)})` : WINDOWS[state.window]
  $('range').textContent = `${label} · ${fmt.stamp(s.from_ms)} → ${fmt.stamp(s.to_ms)}` +
    (active.length ? ` · ${active.join(', ')}` : '')
  const budgets = s.budgets || {}
  renderTiles(s, state.filters)
  renderOperations(s.operations || {}, { budget: budgets.operation_ms, filtered: state.filters.operation, onFilter: name => setView({ operation: name }) })
  renderBundleReleases((s.bundle_load && s.bundle_load.by_release) || {}, budgets.first_load_ms)
  renderFeatures(s.features || {})
}

// ---------------------------------------------------------------- wiring

$('windows').addEventListener('click', event => {
  const button = event.target.closest('button[data-window]')
  if (button && (state.range || button.dataset.window !== state.window)) setView({ window: button.dataset.window })
})
$('zoom').addEventListener('click', () => setView({ range: null }))
$('pages').addEventListener('click', event => {
  const tab = event.target.closest('[data-page]')
  if (!tab) return
  event.preventDefault()
  if (tab.dataset.page !== state.page) setView({ page: tab.dataset.page })
})
for (const f of FILTERS) $('f-' + f).addEventListener('change', event => setView({ [f]: event.target.value }))
$('f-project').addEventListener('change', event => setView({ project: event.target.value }))

window.addEventListener('popstate', () => {
  readView()
  state.gen++
  renderControls()
  refreshAll()
})

$('login-form').addEventListener('submit', event => {
  event.preventDefault()
  const token = $('token').value.trim()
  if (!token) return
  state.token = token
  saveToken(token)
  boot()
})

$('logout').addEventListener('click', () => {
  clearToken()
  state.token = ''
  showLogin('')
})

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && state.running && Date.now() - refreshSummary.last > PERIODIC_MS) refreshAll()
})

state.token = loadToken()
readView()
if (state.token) boot()
else showLogin('')
