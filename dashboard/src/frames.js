// Wasm frames of an error group: resolved (function, file:line) beside the raw index and
// offset the browser reported. The server resolves them on read (wasmwatch/symbols).
import { h } from './dom.js'

const raw = f => `wasm-function[${f.index}]:${f.offset}`
const where = f => (f.file ? `${f.file}:${f.line}` : '')

/** The frame cell of a group row: the resolved top frame over the raw one. */
export function frameCell (g) {
  if (!g.frame) return null
  if (!g.resolved_frame) return h('code', {}, g.frame)
  return h('span', { class: 'frame' }, h('code', { class: 'resolved' }, g.resolved_frame),
    h('code', { class: 'raw' }, g.frame))
}

/** A table of every wasm frame of the sample, innermost first; null when there are none. */
export function framesTable (frames) {
  if (!Array.isArray(frames) || !frames.length) return null
  return h('table', { class: 'grid frames' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Function'), h('th', {}, 'Source'), h('th', {}, 'Raw frame'))),
    h('tbody', {}, ...frames.map(f => h('tr', { class: f.function ? 'resolved' : 'unresolved' },
      h('td', {}, h('code', {}, f.function || f.fn || '?')),
      h('td', {}, where(f) ? h('code', {}, where(f)) : '—'),
      h('td', {}, h('code', { class: 'raw' }, raw(f)))))))
}
