// The error groups table: one row per fingerprint, a click opens its sample (stack, context).
import { $, h } from './dom.js'
import * as fmt from './format.js'
import { cell, empty, fillTable } from './tables.js'

export function renderErrors (answer, { expanded }) {
  const groups = (answer && Array.isArray(answer.groups)) ? answer.groups : []
  const total = answer && typeof answer.total === 'number' ? answer.total : 0
  $('errors-note').textContent = groups.length
    ? `${fmt.plural(total, 'error')} in ${fmt.plural(answer.group_count, 'group')} by fingerprint; click a row for a sample`
    : 'grouped by fingerprint'
  const now = Date.now()
  const rows = []
  for (const g of groups) {
    const open = expanded.has(g.fingerprint)
    const detail = h('tr', { class: 'detail', hidden: !open },
      h('td', { colspan: 6 },
        h('dl', {},
          h('dt', {}, 'Category'), h('dd', {}, g.category || fmt.DASH),
          h('dt', {}, 'Operation'), h('dd', {}, g.operation || fmt.DASH),
          h('dt', {}, 'Sessions'), h('dd', {}, fmt.count(g.sessions)),
          h('dt', {}, 'Releases'), h('dd', {}, (g.releases || []).filter(Boolean).join(', ') || fmt.DASH),
          h('dt', {}, 'Fingerprint'), h('dd', {}, h('code', {}, g.fingerprint || fmt.DASH))),
        h('pre', { class: 'stack' }, g.stack || g.message || '(no stack)')))
    const toggle = () => {
      const nowOpen = detail.hidden
      detail.hidden = !nowOpen
      row.classList.toggle('open', nowOpen)
      row.setAttribute('aria-expanded', String(nowOpen))
      if (nowOpen) expanded.add(g.fingerprint)
      else expanded.delete(g.fingerprint)
    }
    const row = h('tr', {
      class: 'group' + (open ? ' open' : ''),
      tabindex: 0,
      'aria-expanded': String(open),
      dataset: { fingerprint: g.fingerprint || '' },
      onclick: toggle,
      onkeydown: e => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle() } },
    },
    h('td', {}, h('span', { class: `cat cat-${g.category || 'application'}` }, g.kind || fmt.DASH)),
    h('td', { class: 'msg', title: g.message || '' }, g.message || fmt.DASH),
    h('td', { class: 'frame' }, g.frame ? h('code', {}, g.frame) : fmt.DASH),
    cell(fmt.count(g.count)),
    cell(fmt.ago(g.first_seen, now), 'n', fmt.stamp(g.first_seen)),
    cell(fmt.ago(g.last_seen, now), 'n', fmt.stamp(g.last_seen)))
    rows.push(row, detail)
  }
  fillTable($('errors-table'), rows.length ? rows : [empty(6, 'No errors in this window.')])
}
