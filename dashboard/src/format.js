// Number, time and size formatting. Every formatter takes null/undefined/NaN and gives a dash.

export const DASH = '—'
const known = v => typeof v === 'number' && Number.isFinite(v)

export function ms (v) {
  if (!known(v)) return DASH
  if (v >= 60000) return (v / 60000).toFixed(1) + ' min'
  if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 1 : 2) + ' s'
  if (v >= 100) return Math.round(v) + ' ms'
  if (v >= 10) return v.toFixed(1) + ' ms'
  if (v > 0 && v < 0.005) return '<0.01 ms'
  return v.toFixed(2) + ' ms'
}

export function count (v) {
  if (!known(v)) return DASH
  if (Math.abs(v) >= 1e9) return (v / 1e9).toFixed(2) + 'G'
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + 'M'
  if (Math.abs(v) >= 1e5) return (v / 1e3).toFixed(0) + 'k'
  return Math.round(v).toLocaleString('en-US')
}

export function pct (v, digits = 1) {
  if (!known(v)) return DASH
  const p = v * 100
  return (p !== 0 && Math.abs(p) < 0.1 ? '<0.1' : p.toFixed(p === 100 || p === 0 ? 0 : digits)) + ' %'
}

export function bytes (v) {
  if (!known(v)) return DASH
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return (i === 0 ? String(Math.round(v)) : v.toFixed(v >= 100 ? 0 : 1)) + ' ' + units[i]
}

export function duration (v) {
  if (!known(v)) return DASH
  const s = v / 1000
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s'
  const m = s / 60
  if (m < 60) return m.toFixed(m < 10 ? 1 : 0) + ' min'
  const h = m / 60
  if (h < 48) return h.toFixed(h < 10 ? 1 : 0) + ' h'
  return (h / 24).toFixed(1) + ' d'
}

export function ago (ts, now = Date.now()) {
  if (!known(ts)) return DASH
  const d = Math.max(0, now - ts)
  if (d < 5000) return 'just now'
  return duration(d) + ' ago'
}

export function stamp (ts) {
  if (!known(ts)) return DASH
  const d = new Date(ts)
  const pad = n => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

export function rate (v) {
  if (!known(v)) return DASH
  return (v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/\.?0+$/, '') || '0') + ' items/s'
}

/** 'ok' when a value is within its budget, 'bad' when over, '' when unknown. */
export function budget (v, limit) {
  if (!known(v)) return ''
  return v < limit ? 'ok' : 'bad'
}

/** Percentile of sorted numbers with linear interpolation (numpy 'linear', DuckDB quantile_cont). */
export function quantile (sorted, q) {
  if (!sorted.length) return null
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

const trim = s => s.replace(/\.0+$|(\.\d*?)0+$/, '$1')

/** A short duration for budgets: "0", "2.5 ms", "40 ms", "2 s". */
export function msShort (v) {
  if (!known(v)) return DASH
  if (v === 0) return '0'
  if (v >= 1000) return trim((v / 1000).toFixed(2)) + ' s'
  return trim(v.toFixed(v < 10 ? 1 : 0)) + ' ms'
}

/** "1 load", "2 loads", "1,204 errors". */
export function plural (n, word, many = word + 's') {
  return `${count(n)} ${n === 1 ? word : many}`
}

/** Fewest decimals (0..6) that write `v` exactly, so 0.05-spaced ticks are not all "0.1". */
function decimalsOf (v) {
  for (let d = 0; d < 6; d++) {
    const scaled = v * 10 ** d
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d
  }
  return 6
}

/** Axis tick labels for durations: one unit for the whole axis, enough decimals for the step. */
export function msTicks (vals, incr) {
  const top = Math.max(0, ...vals.filter(known))
  const seconds = top >= 1000
  const step = seconds ? incr / 1000 : incr
  const d = decimalsOf(step)
  return vals.map(v => {
    if (!known(v)) return ''
    if (v === 0) return '0'
    return (seconds ? (v / 1000).toFixed(d) + ' s' : v.toFixed(d) + ' ms')
  })
}

const pad2 = n => String(n).padStart(2, '0')
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** Time-axis labels (x in epoch seconds), one line each: 10:24:30, 10:24, or Dec 1. */
export function timeTicks (vals, incrS) {
  return vals.map(v => {
    if (!known(v)) return ''
    const d = new Date(v * 1000)
    if (incrS >= 86400) return `${MONTHS[d.getMonth()]} ${d.getDate()}`
    const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`
    return incrS < 60 ? `${hm}:${pad2(d.getSeconds())}` : hm
  })
}

/** A change as a signed percentage ("+12 %", "−3 %", "±0 %"); dash when unknown. */
export function change (ratio) {
  if (!known(ratio)) return DASH
  const p = (ratio - 1) * 100
  if (Math.abs(p) < 0.5) return '±0 %'
  return (p > 0 ? '+' : '−') + Math.abs(p).toFixed(Math.abs(p) < 10 ? 1 : 0) + ' %'
}
