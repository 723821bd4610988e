// uPlot charts of /api/v1/series answers. Buckets with no data have null stats: lines bridge
// them, bars are 0.
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
const HEIGHT = 190
// Whole-number ticks for counts.
const INTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7]
const fromZero = (u, min, max) => [0, max > 0 ? max * 1.12 : 1]

const bars = () => uPlot.paths.bars({ size: [0.72, 48], gap: 1 })

const num = v => (typeof v === 'number' && Number.isFinite(v) ? v : null)

function latency (points) {
  return {
    data: [points.map(p => p.t / 1000), points.map(p => p.count || 0), points.map(p => num(p.p50)), points.map(p => num(p.p95))],
    series: [
      {},
      { label: 'count', scale: 'n', paths: bars(), fill: COLORS.bars, stroke: COLORS.barsStroke, width: 1, points: { show: false }, value: (u, v) => fmt.count(v) },
      { label: 'p50', scale: 'ms', stroke: COLORS.p50, width: 2, spanGaps: true, points: { size: 4 }, value: (u, v) => fmt.ms(v) },
      { label: 'p95', scale: 'ms', stroke: COLORS.p95, width: 2, spanGaps: true, points: { size: 4 }, value: (u, v) => fmt.ms(v) },
    ],
    axes: [
      { ...AXIS },
      { ...AXIS, scale: 'ms', size: 60, values: (u, vals) => vals.map(v => fmt.msShort(v)) },
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
      { label: 'rate', scale: '%', stroke: COLORS.rate, width: 2, spanGaps: true, points: { size: 4 }, value: (u, v) => (v == null ? fmt.DASH : v.toFixed(1) + ' %') },
    ],
    axes: [
      { ...AXIS },
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
    axes: [{ ...AXIS }, { ...AXIS, scale: 'n', size: 52, incrs: INTS, values: (u, vals) => vals.map(v => fmt.count(v)) }],
    scales: { n: { range: fromZero } },
  }
}

const KINDS = { operation: latency, bundle_load: latency, errors, events }
export const METRICS = Object.keys(KINDS)

const charts = new Map()

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
    cursor: { points: { size: 6 }, drag: { x: false, y: false } },
    legend: { live: true },
  }, spec.data, el)
  charts.set(metric, chart)
  new ResizeObserver(() => {
    const w = Math.max(200, el.clientWidth)
    if (w !== chart.width) chart.setSize({ width: w, height: HEIGHT })
  }).observe(el)
}
