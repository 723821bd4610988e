// The error groups table: one row per fingerprint with its state (open, resolved, ignored,
// regressed), count and trend; a click opens the sample: where it happened (releases,
// browsers, OS with counts), its stack without the SDK's own frames, and its session.
import { $, h } from './dom.js'
import * as fmt from './format.js'
import { frameCell, framesTable } from './frames.js'
import { cell, empty, fillTable } from './tables.js'

const SVG = 'http://www.w3.org/2000/svg'
// Frames inside the SDK itself (its ES module or script build): noise in an app's stack.
const SDK_FRAME = /\/sdk\/wasmwatch(\.iife)?(\.min)?\.js|\bwasmwatch(\.iife)?(\.min)?\.js:\d/

/** The stack without SDK frames, and how many were hidden. */
export function appStack (stack) {
  const lines = String(stack || '').split('\n')
  const kept = lines.filter(line => !SDK_FRAME.test(line))
  return { text: kept.join('\n'), hidden: lines.length - kept.length }
}

/** A small bar sparkline of counts per bucket. */
function sparkline (counts) {
  const top = Math.max(1, ...counts)
  const svg = document.createElementNS(SVG, 'svg')
  svg.setAttribute('viewBox', `0 0 ${counts.length * 3} 16`)
  svg.setAttribute('class', 'spark')
  svg.setAttribute('aria-label', `trend: ${counts.join(', ')}`)
  counts.forEach((n, i) => {
    if (!n) return
    const bar = document.createElementNS(SVG, 'rect')
    const height = Math.max(1.5, (16 * n) / top)
    bar.setAttribute('x', String(i * 3))
    bar.setAttribute('y', String(16 - height))
    bar.setAttribute('width', '2.2')
    bar.setAttribute('height', String(height))
    svg.append(bar)
  })
  return svg
}

const counts = obj => Object.entries(obj || {}).map(([k, n]) => `${k} ${fmt.count(n)}`).join(', ') || fmt.DASH

const STATE_LABEL = { open: 'open', resolved: 'resolved', ignored: 'ignored', regressed: 'regressed' }

function stateBadge (g) {
  const state = g.state || 'open'
  const title = state === 'regressed'
    ? `resolved ${fmt.stamp(g.state_changed_ms)}, back ${fmt.plural(g.regressed_count || 0, 'time')} in ${(g.regressed_in || []).join(', ') || 'an unknown release'}${g.new_release ? ' (a new release)' : ''}`
    : state === 'open' ? 'not resolved or ignored' : `${state} ${fmt.stamp(g.state_changed_ms)}`
  return h('span', { class: `state state-${state}`, title }, STATE_LABEL[state] || state)
}

function actions (g, onState) {
  const state = g.state || 'open'
  const button = (to, label) => h('button', { type: 'button', class: 'small', dataset: { to }, onclick: e => { e.stopPropagation(); onState(g.fingerprint, to) } }, label)
  return h('div', { class: 'actions' },
    state === 'open' || state === 'regressed' ? [button('resolved', 'Resolve'), button('ignored', 'Ignore')] : button('open', 'Reopen'))
}

function detailRow (g, open, { onState, onSession }) {
  const stack = appStack(g.stack || g.message || '')
  return h('tr', { class: 'detail', hidden: !open },
    h('td', { colspan: 7 },
      actions(g, onState),
      h('dl', {},
        h('dt', {}, 'Category'), h('dd', {}, g.category || fmt.DASH),
        h('dt', {}, 'Operation'), h('dd', {}, g.operation || fmt.DASH),
        h('dt', {}, 'Sessions'), h('dd', {}, fmt.count(g.sessions)),
        h('dt', {}, 'Releases'), h('dd', { class: 'by-release' }, counts(g.by_release)),
        h('dt', {}, 'Browsers'), h('dd', { class: 'by-browser' }, counts(g.by_browser)),
        h('dt', {}, 'OS'), h('dd', { class: 'by-os' }, counts(g.by_os)),
        g.state === 'regressed' ? [h('dt', {}, 'Regressed'), h('dd', { class: 'bad-text' }, `in ${(g.regressed_in || []).join(', ')}${g.new_release ? ' (new release)' : ''}`)] : null,
        h('dt', {}, 'Sample'), h('dd', {}, g.sample_session
          ? h('button', { type: 'button', class: 'link session-link', onclick: () => onSession(g.sample_session) }, `session ${g.sample_session}`)
          : fmt.DASH),
        h('dt', {}, 'Fingerprint'), h('dd', {}, h('code', {}, g.fingerprint || fmt.DASH))),
      framesTable(g.frames),
      h('pre', { class: 'stack' }, stack.text || '(no stack)'),
      stack.hidden ? h('p', { class: 'hint sdk-hidden' }, `${fmt.plural(stack.hidden, 'frame')} inside the wasmwatch SDK hidden`) : null))
}

export function renderErrors (answer, { expanded, onState, onSession }) {
  const groups = (answer && Array.isArray(answer.groups)) ? answer.groups : []
  const total = answer && typeof answer.total === 'number' ? answer.total : 0
  $('errors-note').textContent = groups.length
    ? `${fmt.plural(total, 'error')} in ${fmt.plural(answer.group_count, 'group')} by fingerprint; click a row for a sample`
    : 'grouped by fingerprint'
  const now = Date.now()
  const rows = []
  for (const g of groups) {
    const open = expanded.has(g.fingerprint)
    const detail = detailRow(g, open, { onState, onSession })
    const toggle = () => {
      const nowOpen = detail.hidden
      detail.hidden = !nowOpen
      row.classList.toggle('open', nowOpen)
      row.setAttribute('aria-expanded', String(nowOpen))
      if (nowOpen) expanded.add(g.fingerprint)
      else expanded.delete(g.fingerprint)
    }
    const row = h('tr', {
      class: `group state-row-${g.state || 'open'}` + (open ? ' open' : ''),
      tabindex: 0,
      'aria-expanded': String(open),
      dataset: { fingerprint: g.fingerprint || '', state: g.state || 'open' },
      onclick: toggle,
      onkeydown: e => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle() } },
    },
    h('td', {}, h('span', { class: `cat cat-${g.category || 'application'}` }, g.kind || fmt.DASH), ' ', stateBadge(g)),
    h('td', { class: 'msg', title: g.message || '' }, g.message || fmt.DASH),
    h('td', { class: 'frame' }, frameCell(g) || fmt.DASH),
    cell(fmt.count(g.count)),
    h('td', { class: 'n trend-col' }, sparkline(g.trend || [])),
    cell(fmt.ago(g.first_seen, now), 'n', fmt.stamp(g.first_seen)),
    cell(fmt.ago(g.last_seen, now), 'n', fmt.stamp(g.last_seen)))
    rows.push(row, detail)
  }
  fillTable($('errors-table'), rows.length ? rows : [empty(7, 'No errors in this window.')])
}
