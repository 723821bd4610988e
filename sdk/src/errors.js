// Pure error analysis: trap kinds, wasm stack frames, categories, fingerprints, storm cap.
// No DOM here, so `node --test` exercises all of it.

// kind:pattern pairs, the first match wins. Covers the trap messages of V8 (Chromium, Node),
// SpiderMonkey and JSC ("divide by zero", "integer divide by zero", "Division by zero", ...).
const TRAPS = ('unreachable:unreachable|divide_by_zero:by zero|invalid_conversion:integer range|' +
  'conversion|trunc|stack_overflow:call stack|recursion|integer_overflow:overflow|unrepresentable|' +
  'indirect_call_mismatch:signature|indirect|function|table_out_of_bounds:table|' +
  'unaligned_access:unaligned|memory_out_of_bounds:out of bounds|null_dereference:null|' +
  'out_of_memory:out ?of ?memory|alloc').split(/\|(?=\w+:)/).map(t => t.split(':'))

/** The trap kind a message names, or undefined. WebKit's ` (evaluating 'CODE')` tail is the
 * caller's source, not the trap: it is left out. */
export function trapKind(message) {
  for (const [kind, re] of TRAPS) if (RegExp(re, 'i').test((message + '').split(' (eval')[0])) return kind
}

/**
 * The `kind` of an error: the trap kind for WebAssembly traps and runtime faults (stack
 * overflow, out of memory), else the JS error name (`TypeError`, `CompileError`, ...).
 */
export function errorKind(name, message) {
  const trap = trapKind(message)
  if (name == 'RuntimeError' || /^(stack_overflow|out_of_memory)$/.test(trap)) return trap || name
  return name || 'Error'
}

/** critical: out of memory, SharedArrayBuffer, compile/link; runtime: traps and faults. */
export function categorize(name, kind, message) {
  if (kind == 'out_of_memory' || /SharedArrayBuffer|out ?of ?memory/i.test(message) ||
    name == 'CompileError' || name == 'LinkError') return 'critical'
  if (name == 'RuntimeError' || kind != name || /wasm|atomvm/i.test(message)) return 'runtime'
  return 'application'
}

// Chromium `at NAME (URL:wasm-function[3]:0x5c)` or `at URL:wasm-function[3]:0x5c`;
// Firefox `NAME@URL:wasm-function[3]:0x5c` (`... > WebAssembly.instantiate:wasm-function[3]:0x5c`
// for modules compiled from bytes); WebKit `NAME@<?>:wasm-function[3]`, no offset, and the
// index for a name when the module has no names (`3@<?>:wasm-function[3]`).
const FRAME = /^\s*(?:at\s+(?:(.*?)\s+\()?|(.*?)@)?.*?wasm-function\[(\d+)\](?::(0x[\da-f]+))?/i

/** The wasm frames of a stack, innermost first: [{fn, index, offset}] (offset: none in WebKit). */
export function wasmFrames(stack) {
  const out = []
  for (const line of String(stack || '').split('\n')) {
    const m = FRAME.exec(line)
    const fn = m && (m[1] || m[2])
    if (m) out.push({ fn: /^$|^wasm-function|^\d+$/.test(fn) ? undefined : fn, index: +m[3],
      offset: m[4] && +m[4] })
  }
  return out
}

/** `name wasm-function[i]:0xoffset`: one frame as a string (the server's `frame` format). */
export const frameText = f =>
  f && `${f.fn ? f.fn + ' ' : ''}wasm-function[${f.index}]${f.offset >= 0 ? ':0x' + f.offset.toString(16) : ''}`

/** Everything the SDK reports about one error (minus operation and memory). */
export function describe(err, fallbackName = 'Error') {
  const obj = Object(err) === err
  const e = obj ? err : { message: String(err) }
  const name = String((obj && e.name) || fallbackName)
  const message = String(e.message || '').slice(0, 2048)
  const stack = typeof e.stack == 'string' ? e.stack.slice(0, 16384) : undefined
  const kind = errorKind(name, message)
  const frames = wasmFrames(stack)
  return { kind, category: categorize(name, kind, message), message, stack,
    frame: frameText(frames[0]) }
}

/** Storm cap: at most `perKey` errors per fingerprint and `total` overall per window. */
export function createStorm(perKey = 5, total = 30, windowMs = 60000) {
  let start = -Infinity, all = 0, seen = new Map()
  return (key, now) => {
    if (now - start >= windowMs) { start = now; all = 0; seen = new Map() }
    const n = (seen.get(key) || 0) + 1
    seen.set(key, n)
    return n <= perKey && ++all <= total
  }
}
