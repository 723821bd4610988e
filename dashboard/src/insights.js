// The insights page (GET /api/v1/insights): load time against bounce, what the bundle costs to
// serve against the server work the client did instead, and engagement and adoption.
import { $, fill, h } from './dom.js'
import * as fmt from './format.js'
import { cell, empty, fillTable } from './tables.js'

/** A cost in the settings' currency: two decimals, or two significant digits when tiny. */
export function money (v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return fmt.DASH
  if (v === 0) return '0'
  return v < 0.01 ? v.toPrecision(2) : v.toFixed(2)
}

const meter = share => h('div', { class: 'meter' }, h('i', { style: `width:${((share || 0) * 100).toFixed(1)}%` }))

function renderBounce (bounce) {
  $('bounce-note').textContent = `sessions by their first bundle load; bounced: left with less than ${bounce.threshold_s} s visible and no operation (bounce_threshold_s)`
  const rows = Object.entries(bounce.buckets)
  fillTable($('bounce-table'), rows.map(([label, b]) => h('tr', { dataset: { bucket: label } },
    h('td', { class: 'name' }, label),
    cell(fmt.count(b.sessions)),
    cell(fmt.count(b.bounced)),
    cell(fmt.pct(b.bounce_rate, 0)),
    h('td', { class: 'bar-col' }, meter(b.bounce_rate)),
    cell(fmt.count(b.undecided)))))
}

function renderCost (c) {
  fill($('cost'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'From the network'), h('dd', { id: 'cost-network' }, `${fmt.bytes(c.network_bytes)} in ${fmt.plural(c.network_loads, 'load')} · ${money(c.network_cost)}`),
      h('dt', {}, 'Saved by the cache'), h('dd', { id: 'cost-saved' }, `${fmt.plural(c.cached_loads, 'cached load')} · about ${fmt.bytes(c.cache_saved_bytes)} · ${money(c.cache_saved_cost)}`),
      h('dt', {}, 'Work done in the client'), h('dd', { id: 'cost-ops' }, `${fmt.plural(c.client_operations, 'operation')} · ${money(c.server_equivalent_cost)} if a server ran them`)),
    h('p', { class: 'hint' }, `At cdn_price_per_gb = ${c.cdn_price_per_gb} (GB = 10⁹ bytes) and server_cost_per_million_ops = ${c.server_cost_per_million_ops}, in the settings' currency.`))
}

function renderEngagement (e) {
  fill($('engagement'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Visible online'), h('dd', { id: 'eng-online' }, `${fmt.duration(e.online_ms)} · ${fmt.duration(e.online_ms_per_session)} per session`),
      h('dt', {}, 'Visible offline'), h('dd', { id: 'eng-offline' }, `${fmt.duration(e.offline_ms)} · ${fmt.duration(e.offline_ms_per_session)} per session`),
      h('dt', {}, 'Offline adoption'), h('dd', { id: 'eng-adoption' }, `${fmt.pct(e.offline_adoption, 0)} of ${fmt.plural(e.sessions, 'session')} ran operations offline`)))
  const rows = Object.entries(e.features || {})
  fillTable($('adoption-table'), rows.length
    ? rows.map(([name, f]) => h('tr', { dataset: { feature: name } },
      h('td', { class: 'name' }, name),
      cell(fmt.count(f.sessions)),
      cell(fmt.pct(f.share, 0)),
      h('td', { class: 'bar-col' }, meter(f.share)),
      cell(fmt.count(f.offline_sessions))))
    : [empty(5, 'No features used in this window.')])
}

export function renderInsights (answer) {
  if (!answer) return
  renderBounce(answer.bounce)
  renderCost(answer.cost)
  renderEngagement(answer.engagement)
}
