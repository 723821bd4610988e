// The session page: one session's items in time order (GET /api/v1/session), with where it ran
// and its offline periods; reached from an error group's sample.
import { $, fill, h } from './dom.js'
import * as fmt from './format.js'
import { cell, empty, fillTable } from './tables.js'

function what (it) {
  switch (it.type) {
    case 'bundle_load': return `${it.cached ? 'cached' : 'network'} load ${it.name || ''}${it.transfer_bytes ? ' · ' + fmt.bytes(it.transfer_bytes) : ''}`
    case 'operation': return `${it.name || 'operation'}${it.ok === false ? ' (failed)' : ''}${it.offline ? ' · offline' : ''}`
    case 'error': return `${it.kind || 'Error'}: ${it.message || ''}`
    case 'memory': return `WASM memory ${fmt.bytes(it.value)}`
    case 'offline_sync': return `sync ${fmt.plural(it.synced || 0, 'operation')}${it.pending ? ` · ${it.pending} pending` : ''}`
    case 'engagement': return `visible on ${it.name || it.page || 'page'}${it.offline ? ' · offline' : ''}`
    default: return it.name || ''
  }
}

export function renderSession (answer) {
  const items = (answer && answer.items) || []
  const head = $('session-head')
  if (!answer) { fill(head, 'No session chosen: open one from an error group\'s sample.'); return }
  const periods = answer.offline_periods || []
  fill(head,
    h('h2', {}, `Session ${answer.session} `, h('small', {}, `${fmt.plural(answer.total, 'item')}${answer.truncated ? ` (first ${items.length} shown)` : ''}`)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Release'), h('dd', {}, answer.release || fmt.DASH),
      h('dt', {}, 'Browser'), h('dd', {}, answer.browser ? `${answer.browser} ${answer.browser_major || ''}` : fmt.DASH),
      h('dt', {}, 'OS'), h('dd', {}, answer.os || fmt.DASH),
      h('dt', {}, 'Device'), h('dd', {}, answer.device || fmt.DASH),
      h('dt', {}, 'From'), h('dd', {}, `${fmt.stamp(answer.from_ms)} (${fmt.duration((answer.to_ms || 0) - (answer.from_ms || 0))})`),
      h('dt', {}, 'Offline'), h('dd', { id: 'session-offline' }, periods.length
        ? periods.map(p => `${fmt.stamp(p.from_ms)} for ${fmt.duration(p.to_ms - p.from_ms)}`).join('; ')
        : 'never')))
  const start = answer.from_ms || 0
  const away = it => periods.some(p => it.ts >= p.from_ms && it.ts <= p.to_ms)
  fillTable($('session-table'), items.length
    ? items.map(it => h('tr', { class: `t-${it.type}${away(it) ? ' away' : ''}`, dataset: { type: it.type, id: it.id } },
      cell(fmt.stamp(it.ts), 'n'),
      cell('+' + fmt.duration(it.ts - start), 'n'),
      h('td', {}, h('span', { class: `kind kind-${it.type}` }, it.type.replace('_', ' '))),
      h('td', { class: 'name' }, what(it)),
      cell(fmt.ms(it.ms))))
    : [empty(5, 'No items in this session.')])
}
