// Number, time and size formatting. Every formatter takes null/undefined/NaN and gives a dash.

export const DASH = '—'
const known = v => typeof v === 'number' && Number.isFinite(v)

export function ms (v) {
  if (!known(v)) return DASH
  if (v >= 60000) return (v / 60000).toFixed(1) + ' min'
  if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 1 : 2) + ' s'
  if (v >= 100) return Math.round(v) + ' ms'
  if (v >= 10) return v.toFixed(1) + ' ms'
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

/** A short duration for axis ticks and budgets: "0", "2.5 ms", "40 ms", "2 s". */
export function msShort (v) {
  if (!known(v)) return DASH
  if (v === 0) return '0'
  if (v >= 1000) return trim((v / 1000).toFixed(2)) + ' s'
  return trim(v.toFixed(v < 10 ? 1 : 0)) + ' ms'
}
