// The server page: the app's own backend beside its client. GET /api/v1/linked splits each
// client operation (linked by its trace id to the server requests it made) into server time
// and network time; GET /api/v1/routes gives each server route its p50 / p95 / p99, and each
// service's newest process sample.
import { $, h } from './dom.js'
import * as fmt from './format.js'
import { cell, empty, fillTable } from './tables.js'

const share = (part, whole) => (whole > 0 && typeof part === 'number' ? Math.min(1, part / whole) : 0)

/** A bar of the operation's mean client time: its server part, then its network part. */
function splitBar (o) {
  const whole = o.client_ms.mean
  const server = share(o.server_ms.mean, whole)
  const network = Math.min(share(o.network_ms.mean, whole), 1 - server)
  return h('div', { class: 'split', title: `server ${fmt.ms(o.server_ms.mean)} + network ${fmt.ms(o.network_ms.mean)} of ${fmt.ms(whole)} (means)` },
    h('i', { class: 'server', style: `width:${(server * 100).toFixed(1)}%` }),
    h('i', { class: 'network', style: `width:${(network * 100).toFixed(1)}%` }))
}

function renderLinked (answer) {
  const ops = (answer && answer.operations) || []
  fillTable($('linked-table'), ops.length
    ? ops.map(o => h('tr', { dataset: { op: o.operation } },
      h('td', { class: 'name' }, o.operation),
      cell(fmt.count(o.count)),
      cell(fmt.ms(o.client_ms.p50)), cell(fmt.ms(o.client_ms.p95)),
      cell(fmt.ms(o.server_ms.p50)), cell(fmt.ms(o.server_ms.p95)),
      cell(fmt.ms(o.network_ms.p50)), cell(fmt.ms(o.network_ms.p95)),
      cell((o.requests_per_operation || 0).toFixed(1)),
      h('td', { class: 'bar-col' }, splitBar(o))))
    : [empty(10, 'No operations linked to server requests in this window.')])
  const traces = (answer && answer.traces) || []
  fillTable($('traces-table'), traces.length
    ? traces.slice(0, 20).map(t => h('tr', { dataset: { trace: t.trace_id } },
      cell(fmt.stamp(t.ts), 'n'),
      h('td', { class: 'name' }, t.operation || fmt.DASH),
      cell(fmt.ms(t.client_ms)), cell(fmt.ms(t.server_ms)), cell(fmt.ms(t.network_ms)),
      h('td', { class: 'name' }, (t.calls || []).map(c => `${c.method} ${c.route} → ${c.status} (${fmt.ms(c.ms)})`).join(', ')),
      h('td', {}, h('code', { title: t.trace_id }, t.trace_id.slice(0, 12) + '…'))))
    : [empty(7, 'No linked traces in this window.')])
}

function renderRoutes (answer) {
  const routes = (answer && answer.routes) || []
  fillTable($('routes-table'), routes.length
    ? routes.map(r => h('tr', { dataset: { route: r.route, method: r.method } },
      h('td', { class: 'name' }, `${r.method} ${r.route}`),
      cell(r.service || fmt.DASH, 'name'),
      cell(fmt.count(r.count)),
      cell(fmt.pct(r.failure_rate), r.failures ? 'n bad-text' : 'n'),
      cell(fmt.ms(r.p50)), cell(fmt.ms(r.p95)), cell(fmt.ms(r.p99)),
      cell((r.queries_per_request || 0).toFixed(1)),
      cell(fmt.ms(r.query_ms_per_request))))
    : [empty(9, 'No server requests in this window (is wasmwatch.client installed in the app server?).')])
}

function renderProcesses (answer) {
  const procs = (answer && answer.processes) || []
  fillTable($('processes-table'), procs.length
    ? procs.map(p => h('tr', { dataset: { service: p.service || '' } },
      h('td', { class: 'name' }, p.service || fmt.DASH),
      cell(fmt.bytes(p.rss_bytes)), cell(fmt.bytes(p.peak_rss_bytes)),
      cell(p.threads == null ? fmt.DASH : fmt.count(p.threads)),
      cell(p.cpu_s == null ? fmt.DASH : fmt.duration(p.cpu_s * 1000)),
      cell(p.gc_count == null ? fmt.DASH : fmt.count(p.gc_count)),
      cell(fmt.ms(p.gc_ms)),
      cell(fmt.ago(p.ts), 'n')))
    : [empty(8, 'No process samples in this window.')])
}

export function renderBackend (linked, routes) {
  renderLinked(linked)
  renderRoutes(routes)
  renderProcesses(routes)
}
