// A tiny element builder: h('td', {class: 'n', title: 'x'}, 'text', childNode, ...).
// Text is always set as text, never parsed as HTML.

export function h (tag, attrs, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

function append (el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue
    if (Array.isArray(child)) append(el, child)
    else el.append(child instanceof Node ? child : String(child))
  }
}

export const $ = id => document.getElementById(id)

export function fill (el, ...children) {
  el.replaceChildren()
  append(el, children)
}
