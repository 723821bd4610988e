// Pure error analysis: trap kinds, categories, storm cap. No DOM here, so `node --test`
// exercises all of it. Wasm frames are read from the stack by the server (one parser, in
// wasmwatch/ingest/fingerprint.py), which derives each error's `frame` and fingerprint.

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
    /^(Compile|Link)Error$/.test(name)) return 'critical'
  if (name == 'RuntimeError' || kind != name || /wasm|atomvm/i.test(message)) return 'runtime'
  return 'application'
}

/** Everything the SDK reports about one error (minus operation and memory). */
export function describe(err, fallbackName = 'Error') {
  const obj = Object(err) === err
  const e = obj ? err : { message: String(err) }
  const name = String((obj && e.name) || fallbackName)
  const message = String(e.message || '').slice(0, 2048)
  const stack = typeof e.stack == 'string' ? e.stack.slice(0, 16384) : undefined
  const kind = errorKind(name, message)
  return { kind, category: categorize(name, kind, message), message, stack }
}

/** What the storm cap tells errors apart by: kind, message and the top wasm function (the
 * server's grouping, which leaves the byte offset out). */
export const stormKey = d => d.kind + d.message + /wasm-function\[\d+]|$/.exec(d.stack)[0]

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
