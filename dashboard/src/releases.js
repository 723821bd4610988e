// The release regression view: GET /api/v1/releases shown side by side. Each cell is a p95 with
// its change against the previous release; a cell is flagged (⚑) when the server says the mean
// regressed (mean >= factor x the previous release's mean: the regression alert's comparison).
import { $, h } from './dom.js'
import * as fmt from './format.js'
import { cell, empty, fillTable } from './tables.js'

const PHASES = [
  ['download_ms', 'Download'], ['compile_ms', 'Compile'], ['instantiate_ms', 'Instantiate'],
  ['bundle_load_ms', 'Bundle load'], ['runtime_init_ms', 'Runtime init'],
]
const MAX_OP_COLUMNS = 6

function delta (m, show) {
  const ratio = m && (show === 'mean' ? m.ratio : m.p95_ratio)
  if (typeof ratio !== 'number') return null
  const cls = m.regressed ? 'delta bad' : ratio > 1.005 ? 'delta up' : ratio < 0.995 ? 'delta down' : 'delta'
  return h('span', { class: cls }, fmt.change(ratio))
}

function metricCell (m, format, factor, { show = 'p95' } = {}) {
  if (!m || !m.count) return cell(fmt.DASH)
  const v = show === 'mean' ? m.mean : m.p95
  const title = `mean ${format(m.mean)}, p95 ${format(m.p95)} over ${fmt.plural(m.count, 'value')}` +
    (typeof m.ratio === 'number' ? `; mean ×${m.ratio.toFixed(2)} of the previous release (flagged at ×${factor})` : '')
  return h('td', { class: 'n' + (m.regressed ? ' regressed' : ''), title, dataset: { regressed: String(!!m.regressed) } },
    m.regressed ? h('span', { class: 'flag', 'aria-label': 'regressed' }, '⚑ ') : null,
    format(v), ' ', delta(m, show))
}

function errorCell (e, factor) {
  if (!e || !e.operations) return cell(fmt.DASH)
  const ratio = typeof e.ratio === 'number' ? h('span', { class: e.regressed ? 'delta bad' : 'delta' }, fmt.change(e.ratio)) : null
  return h('td', { class: 'n' + (e.regressed ? ' regressed' : ''), dataset: { regressed: String(!!e.regressed) }, title: `${fmt.plural(e.errors, 'error')} / ${fmt.plural(e.operations, 'operation')}; flagged at ×${factor}` },
    e.regressed ? h('span', { class: 'flag' }, '⚑ ') : null, fmt.pct(e.rate), ' ', ratio)
}

export function renderReleasesView (answer) {
  const list = (answer && answer.releases) || []
  const factor = answer ? answer.factor : 1.5
  $('releases-note').textContent = list.length
    ? `newest first, each against the release before it; values are p95 (transfer: mean of network loads); ⚑ marks a mean at least ${factor} × the previous release's (at least ${answer.min_samples} values in both)`
    : 'no releases in this window'
  fillTable($('release-view-table'), list.length
    ? list.map(r => h('tr', { dataset: { release: r.release, regressions: r.regressions.join(' ') } },
      h('td', { class: 'name' }, h('b', {}, r.release), r.previous ? h('small', {}, ` vs ${r.previous}`) : null),
      cell(fmt.stamp(r.first_seen), 'n'),
      cell(fmt.count(r.sessions)),
      PHASES.map(([key]) => metricCell(r.metrics[key], fmt.ms, factor)),
      errorCell(r.error_rate, factor),
      metricCell(r.metrics.transfer_bytes, fmt.bytes, factor, { show: 'mean' })))
    : [empty(10, 'No releases in this window.')])
  renderMatrix($('release-ops-table'), list.slice(0, MAX_OP_COLUMNS), factor, 'operations', 'Operation p95', 'op')
  renderMatrix($('release-routes-table'), list.slice(0, MAX_OP_COLUMNS), factor, 'routes', 'Route p95', 'route')
}

/** One row per operation (or server route), one column per release. */
function renderMatrix (table, list, factor, key, title, data) {
  const head = table.tHead.rows[0]
  head.replaceChildren(h('th', {}, title), ...list.map(r => h('th', { class: 'n' }, r.release)))
  const names = [...new Set(list.flatMap(r => Object.keys(r[key] || {})))].sort()
  fillTable(table, names.length
    ? names.map(name => h('tr', { dataset: { [data]: name } },
      h('td', { class: 'name' }, name),
      list.map(r => metricCell((r[key] || {})[name], fmt.ms, factor))))
    : [empty(Math.max(1, list.length + 1), `No ${key} in this window.`)])
}
