// The headline tiles: each shows its value, its budget (from the server's settings, in
// summary.budgets) and its trend against the previous window of the same length
// (summary.previous, asked with compare=true).
import { $, fill, h } from './dom.js'
import * as fmt from './format.js'

const known = v => typeof v === 'number' && Number.isFinite(v)

/** 'ok' within budget, 'bad' over, '' unknown; the worse of several. */
function verdict (...pairs) {
  const classes = pairs.map(([v, limit]) => fmt.budget(v, limit))
  return classes.includes('bad') ? 'bad' : classes.includes('ok') ? 'ok' : ''
}

/** A value or a pair of values; a pair may wrap between its halves but never gets cut. */
function value (...parts) {
  return h('div', { class: parts.length > 1 ? 'value pair' : 'value' }, parts.map((p, i) => [i ? [' ', h('span', { class: 'sep' }, '/'), ' '] : null, h('span', {}, p)]))
}

/**
 * The trend line: "▲ +12 % vs previous" against the value of the window before. `worse` is
 * 'up' when a rise is bad (latency, errors), 'down' when a fall is, '' when neither.
 */
function trend (now, before, worse = 'up') {
  if (!known(now) || !known(before)) return h('div', { class: 'trend none' }, 'no previous window to compare')
  if (before === 0) return h('div', { class: 'trend none' }, now === 0 ? '±0 % vs previous' : 'new in this window')
  const ratio = now / before
  const dir = ratio > 1.005 ? 'up' : ratio < 0.995 ? 'down' : 'flat'
  const tone = dir === 'flat' || !worse ? '' : dir === worse ? 'worse' : 'better'
  const arrow = dir === 'up' ? '▲' : dir === 'down' ? '▼' : '●'
  return h('div', { class: `trend ${tone}`, dataset: { ratio: ratio.toFixed(4) }, title: `previous window: ${before}` },
    `${arrow} ${fmt.change(ratio)} vs previous`)
}

function tile (key, label, body, { cls = '', sub = null, budget = null, trendEl = null, title = null, wide = false, extra = null } = {}) {
  return h('div', { class: `tile ${cls} ${wide ? 'wide' : ''}`, id: 'tile-' + key, title },
    h('div', { class: 'label' }, label), body,
    sub ? h('div', { class: 'sub' }, sub) : null,
    budget ? h('div', { class: 'budget' }, budget) : null,
    trendEl, extra)
}

const get = (obj, ...path) => path.reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj)

function eventsTile (s, prev, operation) {
  const events = s.events || {}
  const total = Object.values(events).reduce((a, b) => a + (b || 0), 0)
  const before = prev ? Object.values(prev.events || {}).reduce((a, b) => a + (b || 0), 0) : null
  return tile('events', operation ? `Events · ${operation}` : 'Events', value(fmt.count(total)), {
    wide: true,
    trendEl: trend(total, before, ''),
    extra: h('ul', { class: 'chips' }, Object.entries(events).map(([type, n]) =>
      h('li', { dataset: { type } }, h('span', {}, type.replace('_', ' ')), h('b', {}, fmt.count(n))))),
  })
}

function loadTiles (s, prev, b) {
  const bl = s.bundle_load || {}
  const out = []
  for (const [key, label, limit] of [['first', 'First load', b.first_load_ms], ['cached', 'Cached load', b.cached_load_ms]]) {
    const x = bl[key] || {}
    out.push(tile('bundle-' + key, `${label} p50 / p95`, value(fmt.ms(x.p50_ms), fmt.ms(x.p95_ms)), {
      cls: verdict([x.p50_ms, limit], [x.p95_ms, limit]),
      sub: fmt.plural(x.count || 0, 'load'),
      budget: `budget < ${fmt.msShort(limit)}`,
      trendEl: trend(x.p95_ms, get(prev, 'bundle_load', key, 'p95_ms')),
    }))
  }
  const ci = bl.compile_instantiate_p95_ms
  out.push(tile('compile', 'Compile + instantiate p95', value(fmt.ms(ci)), {
    cls: verdict([ci, b.compile_instantiate_ms]),
    sub: `${fmt.plural(bl.count || 0, 'load')} · ${fmt.pct(bl.cached_ratio, 0)} cached`,
    budget: `budget < ${fmt.msShort(b.compile_instantiate_ms)}`,
    trendEl: trend(ci, get(prev, 'bundle_load', 'compile_instantiate_p95_ms')),
  }))
  return out
}

function operationTile (s, prev, b, filtered) {
  const ops = Object.entries(s.operations || {})
  const opCount = ops.reduce((a, [, o]) => a + (o.count || 0), 0)
  let slowest = null
  for (const [name, o] of ops) if (known(o.p95_ms) && (!slowest || o.p95_ms > slowest[1].p95_ms)) slowest = [name, o]
  const name = slowest && slowest[0]
  const p95 = slowest && slowest[1].p95_ms
  const label = filtered ? `${filtered} p95` : 'Slowest operation p95'
  return tile('operation', label, value(fmt.ms(p95)), {
    cls: verdict([p95, b.operation_ms]),
    sub: (name && !filtered ? `${name} · ` : '') + fmt.plural(opCount, 'op'),
    budget: `budget < ${fmt.msShort(b.operation_ms)} per operation`,
    trendEl: trend(p95, name ? get(prev, 'operations', name, 'p95_ms') : null),
    title: filtered ? `The p95 of ${filtered}` : 'The highest p95 among operations in this window (each operation is in the table below)',
  })
}

export function renderTiles (s, filters) {
  if (!s) return
  const b = s.budgets || {}
  const prev = s.previous || null
  const tiles = [eventsTile(s, prev, filters.operation), ...loadTiles(s, prev, b)]

  const ri = s.runtime_init || {}
  tiles.push(tile('runtime', 'Runtime init p95', value(fmt.ms(ri.p95_ms)), {
    cls: verdict([ri.p95_ms, b.runtime_init_ms]),
    sub: `p50 ${fmt.ms(ri.p50_ms)} · ${fmt.plural(ri.count || 0, 'start')}`,
    budget: `budget < ${fmt.msShort(b.runtime_init_ms)}`,
    trendEl: trend(ri.p95_ms, get(prev, 'runtime_init', 'p95_ms')),
  }))
  tiles.push(operationTile(s, prev, b, filters.operation))

  const er = s.errors || {}
  const ops = Object.values(s.operations || {}).reduce((a, o) => a + (o.count || 0), 0)
  const cats = Object.entries(er.by_category || {}).map(([c, n]) => `${c} ${fmt.count(n)}`).join(' · ')
  tiles.push(tile('errors', 'Error rate', value(fmt.pct(er.rate)), {
    cls: known(er.rate) ? (er.rate > b.error_rate ? 'bad' : 'ok') : '',
    sub: `${fmt.plural(er.count || 0, 'error')} / ${fmt.plural(ops, 'op')}${cats ? ' · ' + cats : ''}`,
    budget: `budget ≤ ${fmt.pct(b.error_rate, 0)}`,
    trendEl: trend(er.rate, get(prev, 'errors', 'rate')),
  }))

  const mem = s.memory || {}
  tiles.push(tile('memory', 'WASM memory last / max', value(fmt.bytes(mem.last_bytes), fmt.bytes(mem.max_bytes)), {
    cls: verdict([mem.last_bytes, b.memory_bytes], [mem.max_bytes, b.memory_bytes]),
    budget: `budget < ${fmt.bytes(b.memory_bytes)}`,
    trendEl: trend(mem.max_bytes, get(prev, 'memory', 'max_bytes')),
  }))

  const off = s.offline || {}
  tiles.push(tile('offline', 'Sync success', value(fmt.pct(off.sync_success_rate)), {
    cls: known(off.pending) && off.pending > b.pending_offline ? 'bad' : '',
    sub: `${fmt.plural(off.operations || 0, 'offline op')} · ${fmt.plural(off.syncs || 0, 'sync')} · ${fmt.count(off.pending)} pending`,
    budget: `budget ≤ ${fmt.count(b.pending_offline)} pending`,
    trendEl: trend(off.sync_success_rate, get(prev, 'offline', 'sync_success_rate'), 'down'),
  }))

  const en = s.engagement || {}
  const online = en.online_ms || 0
  const offline = en.offline_ms || 0
  const share = online + offline > 0 ? online / (online + offline) : null
  tiles.push(tile('engagement', 'Engagement online / offline', value(fmt.duration(en.online_ms), fmt.duration(en.offline_ms)), {
    sub: share === null ? 'no visible time yet' : `${fmt.pct(share, 0)} of visible time online`,
    trendEl: trend(en.visible_ms_total, get(prev, 'engagement', 'visible_ms_total'), 'down'),
    extra: share === null ? null : h('div', { class: 'split', title: `online ${fmt.pct(share)}` },
      h('i', { style: `width:${(share * 100).toFixed(1)}%` })),
  }))

  fill($('tiles'), tiles)
}
