// Alerts on the dashboard: the seed's "Recent alerts" panel (the last 50, live over the stream),
// the rules with their state, and the silences (one can be made from an alert).
import { Unauthorized, get, send } from './api.js'
import { $, fill, h } from './dom.js'

const RECENT = 50
const RULES_EVERY_MS = 5000

const view = {
  token: '',
  alerts: new Map(), // id -> alert, newest first when sorted by started_at
  onUnauthorized: () => {},
  rulesTimer: null,
}

function time (ms) {
  if (!ms) return ''
  const d = new Date(ms)
  return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
}

function num (v) {
  if (v === null || v === undefined) return 'n/a'
  return Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 1000) / 1000)
}

function failed (err, what, token) {
  if (token !== view.token) return // an answer for a token since replaced (a new sign-in)
  if (err instanceof Unauthorized) { view.onUnauthorized(); return }
  const el = $('alerts-error')
  el.hidden = false
  el.textContent = `Could not ${what}: ${err && err.message ? err.message : err}`
}

function labelText (labels) {
  return Object.entries(labels || {}).filter(([k]) => k !== 'alertname' && k !== 'severity')
    .map(([k, v]) => `${k}=${v}`).join(', ')
}

function renderRecent () {
  const list = [...view.alerts.values()].sort((a, b) => b.started_at - a.started_at).slice(0, RECENT)
  $('alerts-count').textContent = list.length ? `${list.length} shown` : ''
  const body = $('alerts-list')
  if (!list.length) { fill(body, h('li', { class: 'empty' }, 'No alerts yet.')); return }
  fill(body, list.map(a => h('li', { class: `alert alert-${a.severity}`, dataset: { id: a.id, state: a.state } },
    h('span', { class: `sev sev-${a.severity}` }, a.severity),
    h('span', { class: 'alert-type' }, a.rule),
    h('span', { class: `state state-${a.state}` }, a.state + (a.silenced ? ' (silenced)' : '') + (a.flapping ? ' (flapping)' : '')),
    h('time', { class: 'alert-time', datetime: new Date(a.started_at).toISOString() }, time(a.fired_at || a.started_at)),
    h('div', { class: 'alert-details' }, a.description,
      labelText(a.labels) ? h('small', {}, ' ', labelText(a.labels)) : null,
      h('small', {}, ` value ${num(a.value)}, threshold ${num(a.threshold)}`),
      a.resolved_at ? h('small', {}, `, resolved ${time(a.resolved_at)}`) : null),
    a.state !== 'resolved'
      ? h('button', { type: 'button', class: 'link silence', onclick: () => silenceFrom(a) }, 'Silence 2h')
      : null,
  )))
}

// e.g. "count error > 0 over 5m where category = critical": the filter is part of the rule
function condition (r) {
  const where = Object.entries(r.where || {}).map(([k, v]) => `${k} = ${v}`).join(', ')
  return `${r.stat} ${r.metric} ${r.op} ${r.threshold} over ${r.window}` + (where ? ` where ${where}` : '')
}

function renderRules (rules) {
  fill($('rules-table').tBodies[0], rules.map(r => h('tr', { dataset: { rule: r.name } },
    h('td', {}, r.name),
    h('td', {}, r.kind),
    h('td', {}, condition(r)),
    h('td', {}, h('span', { class: `sev sev-${r.severity}` }, r.severity)),
    h('td', {}, h('span', { class: `state state-${r.state}` }, r.state)),
  )))
}

function renderSilences (silences) {
  const body = $('silences-table').tBodies[0]
  if (!silences.length) { fill(body, h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No silences.'))); return }
  fill(body, silences.map(s => h('tr', { dataset: { id: s.id } },
    h('td', {}, s.matchers.map(m => `${m.name}${m.regex ? '=~' : '='}${m.value}`).join(', ')),
    h('td', {}, s.comment),
    h('td', { class: 'n' }, time(s.ends_at)),
    h('td', {}, s.state),
    h('td', {}, s.state === 'active' ? h('button', { type: 'button', class: 'link', onclick: () => endSilence(s.id) }, 'End') : null),
  )))
}

async function loadAlerts () {
  const token = view.token
  try {
    const answer = await get(token, '/api/v1/alerts', { window: '7d', limit: RECENT })
    view.alerts = new Map(answer.alerts.map(a => [a.id, a]))
    renderRecent()
  } catch (err) { failed(err, 'load alerts', token) }
}

async function loadRules () {
  const token = view.token
  if (!token) return
  try {
    renderRules((await get(token, '/api/v1/rules')).rules)
  } catch (err) { failed(err, 'load rules', token) }
}

async function loadSilences () {
  const token = view.token
  try {
    renderSilences((await get(token, '/api/v1/silences')).silences)
  } catch (err) { failed(err, 'load silences', token) }
}

async function silenceFrom (alert) {
  try {
    await send(view.token, 'POST', '/api/v1/silences', {
      matchers: alert.labels, duration: '2h', comment: `from alert ${alert.id}`, created_by: 'dashboard',
    })
    await loadSilences()
  } catch (err) { failed(err, 'create the silence', view.token) }
}

async function endSilence (id) {
  try {
    await send(view.token, 'DELETE', `/api/v1/silences/${encodeURIComponent(id)}`)
    await loadSilences()
  } catch (err) { failed(err, 'end the silence', view.token) }
}

/** An `alert` event from the live stream: a transition of one alert. */
export function onEvent (data) {
  let alert = null
  try { alert = JSON.parse(data) } catch { return }
  if (!alert || !alert.id) return
  const known = view.alerts.get(alert.id)
  view.alerts.set(alert.id, { ...(known || {}), ...alert })
  renderRecent()
  loadRules()
}

/** Start (once per token; later calls with the same token do nothing). */
export function start (token, onUnauthorized) {
  if (view.token === token) return
  view.token = token
  view.onUnauthorized = onUnauthorized
  $('alerts-error').hidden = true
  loadAlerts()
  loadRules()
  loadSilences()
  clearInterval(view.rulesTimer)
  view.rulesTimer = setInterval(loadRules, RULES_EVERY_MS)
}

export function stop () {
  clearInterval(view.rulesTimer)
  view.token = ''
}
