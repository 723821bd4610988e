// uPlot charts of /api/v1/series answers. Buckets with no data have null stats and lines stop
// there (a lone bucket is drawn as a point, not as a slope to the next bucket with data); bars
// are 0. Dragging across a chart zooms the whole view to that range (see setZoomHandler).
import uPlot from 'uplot'
import * as fmt from './format.js'

const COLORS = {
  p50: '#3b6ef5',
  p95: '#e8590c',
  bars: 'rgba(101, 79, 240, 0.22)',
  barsStroke: 'rgba(101, 79, 240, 0.45)',
  errors: 'rgba(224, 49, 49, 0.55)',
  rate: '#a61e4d',
}
const AXIS = { stroke: '#6b7280', grid: { stroke: '#eef0f3', width: 1 }, ticks: { stroke: '#e5e7eb', width: 1 }, font: '11px system-ui, sans-serif' }
const X_AXIS = { ...AXIS, space: 72, values: (u, vals, i, space, incr) => fmt.timeTicks(vals, incr) }
const HEIGHT = 190
const MIN_ZOOM_MS = 60000 // the query API's shortest custom range
// Whole-number ticks for counts.
const INTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7]
const fromZero = (u, min, max) => [0, max > 0 ? max * 1.12 : 1]

const bars = () => uPlot.paths.bars({ size: [0.72, 48], gap: 1 })

const num = v => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/** Indices of values with no neighbour on either side: without a marker they would not show. */
function lonely (u, seriesIdx) {
  const ys = u.data[seriesIdx]
  const out = []
  for (let i = 0; i < ys.length; i++) {
    if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) out.push(i)
  }
  return out.length ? out : null
}

const line = (label, scale, stroke, value) =>
  ({ label, scale, stroke, width: 2, spanGaps: false, points: { size: 5, filter: lonely }, value })

function latency (points) {
  return {
    data: [points.map(p => p.t / 1000), points.map(p => p.count || 0), points.map(p => num(p.p50)), points.map(p => num(p.p95))],
    series: [
      {},
      { label: 'count', scale: 'n', paths: bars(), fill: COLORS.bars, stroke: COLORS.barsStroke, width: 1, points: { show: false }, value: (u, v) => fmt.count(v) },
      line('p50', 'ms', COLORS.p50, (u, v) => fmt.ms(v)),
      line('p95', 'ms', COLORS.p95, (u, v) => fmt.ms(v)),
    ],
    axes: [
      X_AXIS,
      { ...AXIS, scale: 'ms', size: 64, values: (u, vals, i, space, incr) => fmt.msTicks(vals, incr) },
      { ...AXIS, scale: 'n', side: 1, size: 44, incrs: INTS, grid: { show: false }, values: (u, vals) => vals.map(v => fmt.count(v)) },
    ],
    scales: { ms: { range: fromZero }, n: { range: fromZero } },
  }
}

function errors (points) {
  return {
    data: [points.map(p => p.t / 1000), points.map(p => p.count || 0), points.map(p => (p.operations ? num(p.rate) * 100 : null))],
    series: [
      {},
      { label: 'errors', scale: 'n', paths: bars(), fill: COLORS.errors, stroke: COLORS.errors, width: 1, points: { show: false }, value: (u, v) => fmt.count(v) },
      line('rate', '%', COLORS.rate, (u, v) => (v == null ? fmt.DASH : v.toFixed(1) + ' %')),
    ],
    axes: [
      X_AXIS,
      { ...AXIS, scale: 'n', size: 44, incrs: INTS, values: (u, vals) => vals.map(v => fmt.count(v)) },
      { ...AXIS, scale: '%', side: 1, size: 44, grid: { show: false }, values: (u, vals) => vals.map(v => v + '%') },
    ],
    scales: { n: { range: fromZero }, '%': { range: (u, min, max) => [0, Math.max(5.5, (max || 0) * 1.12)] } },
  }
}

function events (points) {
  return {
    data: [points.map(p => p.t / 1000), points.map(p => p.count || 0)],
    series: [
      {},
      { label: 'items', scale: 'n', paths: bars(), fill: COLORS.bars, stroke: COLORS.barsStroke, width: 1, points: { show: false }, value: (u, v) => fmt.count(v) },
    ],
    axes: [X_AXIS, { ...AXIS, scale: 'n', size: 52, incrs: INTS, values: (u, vals) => vals.map(v => fmt.count(v)) }],
    scales: { n: { range: fromZero } },
  }
}

const KINDS = { operation: latency, bundle_load: latency, errors, events }
export const METRICS = Object.keys(KINDS)

const charts = new Map()
let zoomTo = null

/** `fn(fromMs, toMs)` is called when the user drags across a chart. */
export function setZoomHandler (fn) { zoomTo = fn }

function onSelect (u) {
  const { left, width } = u.select
  if (width < 4 || !zoomTo) return
  let from = u.posToVal(left, 'x') * 1000
  let to = u.posToVal(left + width, 'x') * 1000
  if (to - from < MIN_ZOOM_MS) {
    const mid = (from + to) / 2
    from = mid - MIN_ZOOM_MS / 2
    to = mid + MIN_ZOOM_MS / 2
  }
  u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
  zoomTo(Math.floor(from), Math.ceil(Math.min(to, Date.now())))
}

/** Draw (or update) the chart of one metric in element `#chart-<metric>`. */
export function draw (metric, answer) {
  const el = document.getElementById('chart-' + metric)
  if (!el) return
  const points = (answer && Array.isArray(answer.points)) ? answer.points : []
  const spec = KINDS[metric](points)
  let chart = charts.get(metric)
  if (chart) {
    chart.setData(spec.data)
    return
  }
  const width = Math.max(200, el.clientWidth || 400)
  chart = new uPlot({
    width,
    height: HEIGHT,
    series: spec.series,
    axes: spec.axes,
    scales: { x: { time: true }, ...spec.scales },
    cursor: { points: { size: 6 }, drag: { x: true, y: false, setScale: false } },
    hooks: { setSelect: [onSelect] },
    legend: { live: true },
  }, spec.data, el)
  charts.set(metric, chart)
  new ResizeObserver(() => {
    const w = Math.max(200, el.clientWidth)
    if (w !== chart.width) chart.setSize({ width: w, height: HEIGHT })
  }).observe(el)
}
