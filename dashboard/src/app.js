// The wasmwatch dashboard: headline tiles, tables, charts and error groups for one window,
// kept fresh by the live stream. Talks only to this server's admin API.
import { ApiError, Unauthorized, clearToken, get, loadToken, saveToken } from './api.js'
import * as alertsView from './alerts.js'
import * as charts from './charts.js'
import { $, fill, h } from './dom.js'
import * as fmt from './format.js'
import { frameCell, framesTable } from './frames.js'

// Budgets and thresholds from the design's defaults.
const BUDGET = {
  firstLoad: 2000, cachedLoad: 500, runtimeInit: 500, operation: 50,
  errorRate: 0.05, memory: 10 * 1024 * 1024, pending: 100,
}
const WINDOWS = { '5m': 'Last 5 minutes', '1h': 'Last hour', '24h': 'Last 24 hours', '7d': 'Last 7 days', '30d': 'Last 30 days' }
const FILTERS = ['release', 'browser', 'operation']
const SUMMARY_EVERY_MS = 2000 // at most one summary refresh per 2 s while live data arrives
const DETAIL_EVERY_MS = 10000 // charts, errors and the bundle split: at most every 10 s
const PERIODIC_MS = 30000 // everything, so a rolling window rolls even when nothing arrives
const RATE_SPAN_MS = 10000 // the live items/s counter averages over this span
const SPLIT_LIMIT = 2000 // bundle loads read to split first from cached loads
const VIEW_KEY = 'wasmwatch.view'

const state = {
  token: '',
  project: 'default', // every query and the live stream read this project only
  projects: [],
  window: '1h',
  filters: { release: '', browser: '', operation: '' },
  gen: 0, // bumped when the view changes; answers for an older view are dropped
  summary: null,
  split: null,
  catalog: { release: new Set(), browser: new Set(), operation: new Set() },
  expanded: new Set(),
  running: false,
}

// ---------------------------------------------------------------- view state

function loadView () {
  try {
    const view = JSON.parse(localStorage.getItem(VIEW_KEY) || '{}')
    if (WINDOWS[view.window]) state.window = view.window
    for (const f of FILTERS) if (typeof view[f] === 'string') state.filters[f] = view[f]
  } catch { /* ignore a broken stored view */ }
  const hash = new URLSearchParams(location.hash.slice(1))
  if (hash.get('project')) state.project = hash.get('project')
  if (WINDOWS[hash.get('window')]) state.window = hash.get('window')
  for (const f of FILTERS) if (hash.has(f)) state.filters[f] = hash.get(f) || ''
}

function saveView () {
  try { localStorage.setItem(VIEW_KEY, JSON.stringify({ window: state.window, ...state.filters })) } catch { /* private mode */ }
}

function params (extra = {}) {
  return { project: state.project, window: state.window, ...state.filters, ...extra }
}

function setView (change) {
  Object.assign(state, change.window ? { window: change.window } : {})
  if (change.project && change.project !== state.project) {
    state.project = change.project
    for (const f of FILTERS) { state.filters[f] = ''; state.catalog[f] = new Set() }
    live.start()
  }
  for (const f of FILTERS) if (f in change) state.filters[f] = change[f]
  state.gen++
  saveView()
  renderControls()
  refreshAll({ catalog: true })
}

// ---------------------------------------------------------------- auth

function showLogin (message) {
  state.running = false
  live.stop()
  alertsView.stop()
  $('app').hidden = true
  $('controls').hidden = true
  $('logout').hidden = true
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

function boot () {
  state.running = true
  $('login').hidden = true
  $('app').hidden = false
  $('controls').hidden = false
  $('logout').hidden = false
  renderControls()
  refreshAll({ catalog: true })
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

let summaryBusy = false
let summaryAgain = false
let lastSummaryAt = 0
let detailBusy = false
let detailAgain = false
let lastDetailAt = 0

function failed (err, what) {
  if (err instanceof Unauthorized) { unauthorized(); return true }
  banner(`Could not load ${what}: ${err && err.message ? err.message : err}`)
  if (!(err instanceof ApiError)) console.error(err)
  return false
}

async function refreshSummary () {
  if (!state.running) return
  if (summaryBusy) { summaryAgain = true; return }
  summaryBusy = true
  lastSummaryAt = Date.now()
  const gen = state.gen
  try {
    const summary = await get(state.token, '/api/v1/summary', params())
    // the alerts panel starts once the token is known good (a wrong one costs no more attempts)
    if (state.running) alertsView.start(state.token, unauthorized)
    if (gen === state.gen && state.running) {
      state.summary = summary
      learn(summary)
      renderSummary()
      banner('')
    }
  } catch (err) {
    failed(err, 'the summary')
  } finally {
    summaryBusy = false
    if (summaryAgain) { summaryAgain = false; refreshSummary() }
  }
}

async function refreshDetail () {
  if (!state.running) return
  if (detailBusy) { detailAgain = true; return }
  detailBusy = true
  lastDetailAt = Date.now()
  const gen = state.gen
  const tasks = [
    ...charts.METRICS.map(metric => get(state.token, '/api/v1/series', params({ metric }))
      .then(answer => { if (gen === state.gen) charts.draw(metric, answer) })),
    get(state.token, '/api/v1/errors', params({ limit: 50 }))
      .then(answer => { if (gen === state.gen) renderErrors(answer) }),
    loadSplit().then(split => { if (gen === state.gen) { state.split = split; renderTiles() } }),
  ]
  try {
    for (const result of await Promise.allSettled(tasks)) {
      if (result.status === 'rejected' && failed(result.reason, 'charts')) break
    }
  } finally {
    detailBusy = false
    if (detailAgain) { detailAgain = false; refreshDetail() }
  }
}

/** First-load and cached-load percentiles, from the window's newest raw bundle loads. */
async function loadSplit () {
  const answer = await get(state.token, '/api/v1/items', {
    type: 'bundle_load', project: state.project, window: state.window, release: state.filters.release, limit: SPLIT_LIMIT,
  })
  const rows = (answer && Array.isArray(answer.items) ? answer.items : [])
  for (const row of rows) { add('browser', row.browser); add('release', row.release) }
  renderFilterOptions()
  const mine = rows.filter(r => !state.filters.browser || r.browser === state.filters.browser)
  const stats = list => {
    const ms = list.map(r => r.ms).filter(v => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b)
    return { count: ms.length, p50: fmt.quantile(ms, 0.5), p95: fmt.quantile(ms, 0.95) }
  }
  return {
    first: stats(mine.filter(r => r.cached !== true)),
    cached: stats(mine.filter(r => r.cached === true)),
    truncated: rows.length >= SPLIT_LIMIT,
  }
}

/** Releases and browsers seen lately, for the filter menus. */
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
  refreshSummary()
  refreshDetail()
  if (catalog) loadCatalog()
}

let summaryTimer = null
let detailTimer = null

/** New items arrived: refresh the summary within 2 s and the rest within 10 s, no more often. */
function onLiveData () {
  if (!summaryTimer) {
    const wait = Math.max(0, lastSummaryAt + SUMMARY_EVERY_MS - Date.now())
    summaryTimer = setTimeout(() => { summaryTimer = null; refreshSummary() }, wait)
  }
  if (!detailTimer) {
    const wait = Math.max(0, lastDetailAt + DETAIL_EVERY_MS - Date.now())
    detailTimer = setTimeout(() => { detailTimer = null; refreshDetail() }, wait)
  }
}

setInterval(() => {
  if (state.running && !document.hidden) refreshAll()
}, PERIODIC_MS)

// ---------------------------------------------------------------- live stream

const live = (() => {
  let source = null
  let retryTimer = null
  let arrivals = [] // [receivedAt, items]
  let since = 0

  function setState (name, label) {
    const el = $('live')
    el.dataset.state = name
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

  function start () {
    stop()
    since = Date.now()
    setState('connecting', 'connecting')
    source = new EventSource('/api/v1/stream?token=' + encodeURIComponent(state.token) +
      '&project=' + encodeURIComponent(state.project))
    source.onopen = () => setState('on', 'live')
    source.addEventListener('items', event => {
      let update = null
      try { update = JSON.parse(event.data) } catch { return }
      const n = update && typeof update.items === 'number' ? update.items : 0
      arrivals.push([Date.now(), n])
      const el = $('live')
      el.classList.remove('pulse')
      void el.offsetWidth // restart the pulse animation
      el.classList.add('pulse')
      tick()
      onLiveData()
    })
    source.addEventListener('alert', event => alertsView.onEvent(event.data))
    source.onerror = () => {
      if (!source || source.readyState !== EventSource.CLOSED) { setState('connecting', 'reconnecting'); return }
      // Closed for good (a non-200 answer): find out whether the token went bad, then retry.
      stop()
      setState('off', 'offline')
      get(state.token, '/api/v1/summary', { project: state.project, window: '5m' })
        .then(() => { retryTimer = setTimeout(() => state.running && start(), 5000) })
        .catch(err => {
          if (err instanceof Unauthorized) unauthorized()
          else retryTimer = setTimeout(() => state.running && start(), 5000)
        })
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
})()

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
  if (!summary) return
  for (const release of Object.keys((summary.bundle_load && summary.bundle_load.by_release) || {})) {
    if (release !== 'unknown') add('release', release)
  }
  for (const name of Object.keys(summary.operations || {})) if (name !== 'unknown') add('operation', name)
  renderFilterOptions()
}

function renderControls () {
  for (const button of $('windows').querySelectorAll('button')) {
    const on = button.dataset.window === state.window
    button.classList.toggle('on', on)
    button.setAttribute('aria-checked', String(on))
    button.setAttribute('role', 'radio')
  }
  renderFilterOptions()
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
  $('range').textContent = `${WINDOWS[state.window]} · ${fmt.stamp(s.from_ms)} → ${fmt.stamp(s.to_ms)}` +
    (active.length ? ` · ${active.join(', ')}` : '')
  renderTiles()
  renderOperations(s.operations || {})
  renderReleases((s.bundle_load && s.bundle_load.by_release) || {})
  renderFeatures(s.features || {})
}

function tile (key, label, value, { cls = '', sub = null, title = null, wide = false, extra = null } = {}) {
  return h('div', { class: `tile ${cls} ${wide ? 'wide' : ''}`, id: 'tile-' + key, title },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, value),
    sub ? h('div', { class: 'sub' }, sub) : null,
    extra)
}

/** The worse of two budget classes ('' when both unknown). */
const worst = (...classes) => (classes.includes('bad') ? 'bad' : classes.includes('ok') ? 'ok' : '')

function renderTiles () {
  const s = state.summary
  if (!s) return
  const tiles = []

  const events = s.events || {}
  const total = Object.values(events).reduce((a, b) => a + (b || 0), 0)
  tiles.push(tile('events', 'Events', fmt.count(total), {
    wide: true,
    extra: h('ul', { class: 'chips' }, Object.entries(events).map(([type, n]) =>
      h('li', { dataset: { type } }, h('span', {}, type.replace('_', ' ')), h('b', {}, fmt.count(n))))),
  }))

  const bl = s.bundle_load || {}
  const split = state.split
  if (split && (split.first.count || split.cached.count || !bl.count)) {
    const note = split.truncated ? ` (newest ${SPLIT_LIMIT})` : ''
    const first = split.first
    const cached = split.cached
    tiles.push(tile('bundle-first', 'First load p50 / p95', `${fmt.ms(first.p50)} / ${fmt.ms(first.p95)}`, {
      cls: worst(fmt.budget(first.p50, BUDGET.firstLoad), fmt.budget(first.p95, BUDGET.firstLoad)),
      sub: `${fmt.count(first.count)} loads${note} · budget < ${fmt.msShort(BUDGET.firstLoad)}`,
    }))
    tiles.push(tile('bundle-cached', 'Cached load p50 / p95', `${fmt.ms(cached.p50)} / ${fmt.ms(cached.p95)}`, {
      cls: worst(fmt.budget(cached.p50, BUDGET.cachedLoad), fmt.budget(cached.p95, BUDGET.cachedLoad)),
      sub: `${fmt.count(cached.count)} loads${note} · budget < ${fmt.msShort(BUDGET.cachedLoad)}`,
    }))
  } else {
    tiles.push(tile('bundle', 'Bundle load p50 / p95', `${fmt.ms(bl.p50_ms)} / ${fmt.ms(bl.p95_ms)}`, {
      cls: worst(fmt.budget(bl.p50_ms, BUDGET.firstLoad), fmt.budget(bl.p95_ms, BUDGET.firstLoad)),
      sub: `${fmt.count(bl.count)} loads · ${fmt.pct(bl.cached_ratio, 0)} cached · budget < ${fmt.msShort(BUDGET.firstLoad)}`,
    }))
  }

  const ri = s.runtime_init || {}
  tiles.push(tile('runtime', 'Runtime init p95', fmt.ms(ri.p95_ms), {
    cls: fmt.budget(ri.p95_ms, BUDGET.runtimeInit),
    sub: `p50 ${fmt.ms(ri.p50_ms)} · ${fmt.count(ri.count)} starts · budget < ${fmt.msShort(BUDGET.runtimeInit)}`,
  }))

  const ops = Object.entries(s.operations || {})
  const opCount = ops.reduce((a, [, o]) => a + (o.count || 0), 0)
  let slowest = null
  for (const [name, o] of ops) if (typeof o.p95_ms === 'number' && (!slowest || o.p95_ms > slowest[1])) slowest = [name, o.p95_ms]
  tiles.push(tile('operation', 'Operation p95', fmt.ms(slowest && slowest[1]), {
    cls: fmt.budget(slowest && slowest[1], BUDGET.operation),
    sub: slowest ? `slowest: ${slowest[0]} · ${fmt.count(opCount)} ops · budget < ${fmt.msShort(BUDGET.operation)}` : `${fmt.count(opCount)} ops · budget < ${fmt.msShort(BUDGET.operation)}`,
    title: 'The highest p95 among operations in this window',
  }))

  const er = s.errors || {}
  const cats = Object.entries(er.by_category || {}).map(([c, n]) => `${c} ${fmt.count(n)}`).join(' · ')
  tiles.push(tile('errors', 'Error rate', fmt.pct(er.rate), {
    cls: typeof er.rate === 'number' ? (er.rate > BUDGET.errorRate ? 'bad' : 'ok') : '',
    sub: `${fmt.count(er.count)} errors / ${fmt.count(opCount)} ops${cats ? ' · ' + cats : ''}`,
  }))

  const mem = s.memory || {}
  tiles.push(tile('memory', 'WASM memory last / max', `${fmt.bytes(mem.last_bytes)} / ${fmt.bytes(mem.max_bytes)}`, {
    cls: worst(fmt.budget(mem.last_bytes, BUDGET.memory), fmt.budget(mem.max_bytes, BUDGET.memory)),
    sub: `budget < ${fmt.bytes(BUDGET.memory)}`,
  }))

  const off = s.offline || {}
  tiles.push(tile('offline', 'Sync success', fmt.pct(off.sync_success_rate), {
    cls: typeof off.pending === 'number' && off.pending > BUDGET.pending ? 'bad' : '',
    sub: `${fmt.count(off.operations)} offline ops · ${fmt.count(off.syncs)} syncs · ${fmt.count(off.pending)} pending`,
  }))

  const en = s.engagement || {}
  const online = en.online_ms || 0
  const offline = en.offline_ms || 0
  const share = online + offline > 0 ? online / (online + offline) : null
  tiles.push(tile('engagement', 'Engagement online / offline', `${fmt.duration(en.online_ms)} / ${fmt.duration(en.offline_ms)}`, {
    sub: share === null ? 'no visible time yet' : `${fmt.pct(share, 0)} of visible time online`,
    extra: share === null ? null : h('div', { class: 'split', title: `online ${fmt.pct(share)}` },
      h('i', { style: `width:${(share * 100).toFixed(1)}%` })),
  }))

  fill($('tiles'), tiles)
}

const cell = (text, cls = 'n', title = null) => h('td', { class: cls, title }, text)
const empty = (cols, text) => h('tr', { class: 'empty' }, h('td', { colspan: cols }, text))

function renderOperations (operations) {
  const rows = Object.entries(operations).sort((a, b) => (b[1].count || 0) - (a[1].count || 0) || a[0].localeCompare(b[0]))
  fill($('ops-table').tBodies[0], rows.length
    ? rows.map(([name, o]) => h('tr', { dataset: { op: name } },
      h('td', {}, h('button', { type: 'button', class: 'link', title: state.filters.operation === name ? 'Clear the filter' : `Show only ${name}`, onclick: () => setView({ operation: state.filters.operation === name ? '' : name }) }, name)),
      cell(fmt.count(o.count)),
      cell(fmt.count(o.errors), o.errors ? 'n bad-text' : 'n'),
      cell(fmt.count(o.offline)),
      cell(fmt.ms(o.p50_ms)),
      cell(fmt.ms(o.p95_ms), 'n ' + fmt.budget(o.p95_ms, BUDGET.operation) + '-text'),
      cell(fmt.ms(o.p99_ms)),
      cell(fmt.ms(o.avg_ms))))
    : empty(8, 'No operations in this window.'))
}

function renderReleases (byRelease) {
  const rows = Object.entries(byRelease).sort((a, b) => b[0].localeCompare(a[0], 'en', { numeric: true }))
  fill($('releases-table').tBodies[0], rows.length
    ? rows.map(([release, r]) => h('tr', { dataset: { release } },
      h('td', {}, release),
      cell(fmt.count(r.count)),
      cell(fmt.pct(r.cached_ratio, 0)),
      cell(fmt.ms(r.p50_ms)),
      cell(fmt.ms(r.p95_ms), 'n ' + fmt.budget(r.p95_ms, BUDGET.firstLoad) + '-text'),
      cell(fmt.ms(r.p99_ms)),
      cell(fmt.ms(r.avg_ms)),
      cell(fmt.bytes(r.bytes_total))))
    : empty(8, 'No bundle loads in this window.'))
}

function renderFeatures (features) {
  const rows = Object.entries(features).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  const top = rows.length ? Math.max(...rows.map(r => r[1])) : 1
  fill($('features-table').tBodies[0], rows.length
    ? rows.map(([name, n]) => h('tr', { dataset: { feature: name } },
      h('td', {}, name),
      cell(fmt.count(n)),
      h('td', { class: 'bar-col' }, h('div', { class: 'meter' }, h('i', { style: `width:${(100 * n / top).toFixed(1)}%` })))))
    : empty(3, 'No features used in this window.'))
}

function renderErrors (answer) {
  const groups = (answer && Array.isArray(answer.groups)) ? answer.groups : []
  const total = answer && typeof answer.total === 'number' ? answer.total : 0
  $('errors-note').textContent = groups.length
    ? `${fmt.count(total)} errors in ${fmt.count(answer.group_count)} groups by fingerprint; click a row for a sample`
    : 'grouped by fingerprint'
  const now = Date.now()
  const rows = []
  for (const g of groups) {
    const open = state.expanded.has(g.fingerprint)
    const detail = h('tr', { class: 'detail', hidden: !open },
      h('td', { colspan: 6 },
        h('dl', {},
          h('dt', {}, 'Category'), h('dd', {}, g.category || fmt.DASH),
          h('dt', {}, 'Operation'), h('dd', {}, g.operation || fmt.DASH),
          h('dt', {}, 'Sessions'), h('dd', {}, fmt.count(g.sessions)),
          h('dt', {}, 'Releases'), h('dd', {}, (g.releases || []).filter(Boolean).join(', ') || fmt.DASH),
          h('dt', {}, 'Fingerprint'), h('dd', {}, h('code', {}, g.fingerprint || fmt.DASH))),
        framesTable(g.frames),
        h('pre', { class: 'stack' }, g.stack || g.message || '(no stack)')))
    const row = h('tr', {
      class: 'group' + (open ? ' open' : ''),
      tabindex: 0,
      'aria-expanded': String(open),
      dataset: { fingerprint: g.fingerprint || '' },
      onclick: () => toggle(),
      onkeydown: e => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle() } },
    },
    h('td', {}, h('span', { class: `cat cat-${g.category || 'application'}` }, g.kind || fmt.DASH)),
    h('td', { class: 'msg', title: g.message || '' }, g.message || fmt.DASH),
    h('td', {}, frameCell(g) || fmt.DASH),
    cell(fmt.count(g.count)),
    cell(fmt.ago(g.first_seen, now), 'n', fmt.stamp(g.first_seen)),
    cell(fmt.ago(g.last_seen, now), 'n', fmt.stamp(g.last_seen)))
    function toggle () {
      const nowOpen = detail.hidden
      detail.hidden = !nowOpen
      row.classList.toggle('open', nowOpen)
      row.setAttribute('aria-expanded', String(nowOpen))
      if (nowOpen) state.expanded.add(g.fingerprint)
      else state.expanded.delete(g.fingerprint)
    }
    rows.push(row, detail)
  }
  fill($('errors-table').tBodies[0], rows.length ? rows : empty(6, 'No errors in this window.'))
}

// ---------------------------------------------------------------- wiring

$('windows').addEventListener('click', event => {
  const button = event.target.closest('button[data-window]')
  if (button && button.dataset.window !== state.window) setView({ window: button.dataset.window })
})
for (const f of FILTERS) $('f-' + f).addEventListener('change', event => setView({ [f]: event.target.value }))
$('f-project').addEventListener('change', event => setView({ project: event.target.value }))

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
  if (!document.hidden && state.running && Date.now() - lastSummaryAt > PERIODIC_MS) refreshAll()
})

loadView()
state.token = loadToken()
if (state.token) boot()
else showLogin('')
