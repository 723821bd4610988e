// The overview's tables: operations, bundle loads by release, features. Each cell carries its
// column's name (data-label) so a narrow screen can show a row as a small card (style.css).
import { $, fill, h } from './dom.js'
import * as fmt from './format.js'

export const cell = (text, cls = 'n', title = null) => h('td', { class: cls, title }, text)
export const empty = (cols, text) => h('tr', { class: 'empty' }, h('td', { colspan: cols }, text))

/** Fill a table's body and label every cell with its column header. */
export function fillTable (table, rows) {
  fill(table.tBodies[0], rows)
  const heads = [...table.tHead.rows[0].cells].map(th => th.textContent.trim())
  for (const tr of table.tBodies[0].rows) {
    if (tr.classList.contains('empty') || tr.classList.contains('detail')) continue
    ;[...tr.cells].forEach((td, i) => { if (heads[i]) td.dataset.label = heads[i] })
  }
}

export function renderOperations (operations, { budget, filtered, onFilter }) {
  const rows = Object.entries(operations).sort((a, b) => (b[1].count || 0) - (a[1].count || 0) || a[0].localeCompare(b[0]))
  fillTable($('ops-table'), rows.length
    ? rows.map(([name, o]) => h('tr', { dataset: { op: name } },
      h('td', { class: 'name' }, h('button', { type: 'button', class: 'link', title: filtered === name ? 'Clear the filter' : `Show only ${name}`, onclick: () => onFilter(filtered === name ? '' : name) }, name)),
      cell(fmt.count(o.count)),
      cell(fmt.count(o.errors), o.errors ? 'n bad-text' : 'n'),
      cell(fmt.count(o.offline)),
      cell(fmt.ms(o.p50_ms)),
      cell(fmt.ms(o.p95_ms), 'n ' + fmt.budget(o.p95_ms, budget) + '-text'),
      cell(fmt.ms(o.p99_ms)),
      cell(fmt.ms(o.avg_ms))))
    : [empty(8, 'No operations in this window.')])
}

export function renderBundleReleases (byRelease, budget) {
  const rows = Object.entries(byRelease).sort((a, b) => b[0].localeCompare(a[0], 'en', { numeric: true }))
  fillTable($('releases-table'), rows.length
    ? rows.map(([release, r]) => h('tr', { dataset: { release } },
      h('td', { class: 'name' }, release),
      cell(fmt.count(r.count)),
      cell(fmt.pct(r.cached_ratio, 0)),
      cell(fmt.ms(r.p50_ms)),
      cell(fmt.ms(r.p95_ms), 'n ' + fmt.budget(r.p95_ms, budget) + '-text'),
      cell(fmt.ms(r.p99_ms)),
      cell(fmt.ms(r.avg_ms)),
      cell(fmt.bytes(r.bytes_total))))
    : [empty(8, 'No bundle loads in this window.')])
}

export function renderFeatures (features) {
  const rows = Object.entries(features).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  const top = rows.length ? Math.max(...rows.map(r => r[1])) : 1
  fillTable($('features-table'), rows.length
    ? rows.map(([name, n]) => h('tr', { dataset: { feature: name } },
      h('td', { class: 'name' }, name),
      cell(fmt.count(n)),
      h('td', { class: 'bar-col' }, h('div', { class: 'meter' }, h('i', { style: `width:${(100 * n / top).toFixed(1)}%` })))))
    : [empty(3, 'No features used in this window.')])
}
