// Auto-instrumentation of the four WebAssembly loading APIs.
//
// instantiateStreaming(src) is run as compileStreaming(src) then instantiate(module), and
// instantiate(bytes) as compile(bytes) then instantiate(module): the same steps the spec
// defines, with a clock between them. What each returns is unchanged, so Emscripten's and
// wasm-bindgen's loaders (and their `instanceof` checks and fallbacks) work as before.
//
// One record per module load, whatever path it takes: an engine (or polyfill) whose streaming
// calls go through the wrapped `compile` / `instantiate` compiles the module once inside our
// streaming call; the report of an instantiation waits until the streaming calls in flight have
// settled, so it carries the streaming call's URL, flag and start, and is made once per module.

/**
 * Wraps `W`'s loaders and returns a function that restores them.
 * hooks.loaded({url, streaming, start, compile_ms, instantiate_ms, end}) once per module,
 * hooks.memory(WebAssembly.Memory) for each memory an instance exports or imports,
 * hooks.error(err) for CompileError, LinkError and RuntimeError (start function) rejections.
 */
export function instrument(W, hooks, now = () => performance.now()) {
  const orig = {}
  for (const k of ['compile', 'instantiate', 'compileStreaming', 'instantiateStreaming']) orig[k] = W[k]
  const compiled = new WeakMap(), reported = new WeakSet(), held = []
  let busy = 0
  const fail = e => {
    if (/^(Compile|Link|Runtime)Error$/.test(e && e.name)) hooks.error(e)
    throw e
  }

  const compile = (fn, src, streaming) => {
    const start = now()
    let url
    if (streaming) busy++, Promise.resolve(src).then(r => { url = r && r.url }, () => {})
    return fn.call(W, src).then(m => {
      compiled.set(m, { url, streaming, start, compile_ms: now() - start })
      return m
    }, fail).finally(() => streaming && !--busy && held.splice(0).forEach(f => f()))
  }

  const instantiate = (m, imports) => {
    const t = now()
    return orig.instantiate.call(W, m, imports).then(inst => {
      const end = now(), report = () => hooks.loaded({ ...compiled.get(m) || { start: t },
        instantiate_ms: end - t, end })
      if (!reported.has(m)) {
        reported.add(m)
        busy ? held.push(report) : report()
      }
      memories(W, inst.exports, hooks.memory)
      for (const k in imports) memories(W, imports[k], hooks.memory)
      return inst
    }, fail)
  }

  const pair = m => (imports) => instantiate(m, imports).then(instance => ({ module: m, instance }))

  W.compile = bytes => compile(orig.compile, bytes, false)
  W.instantiate = (src, imports) => src instanceof W.Module
    ? instantiate(src, imports)
    : compile(orig.compile, src, false).then(m => pair(m)(imports))
  if (orig.compileStreaming) {
    W.compileStreaming = src => compile(orig.compileStreaming, src, true)
    W.instantiateStreaming = (src, imports) =>
      compile(orig.compileStreaming, src, true).then(m => pair(m)(imports))
  }
  return () => { for (const k in orig) if (orig[k]) W[k] = orig[k] }
}

/** Calls `found` with each WebAssembly.Memory among an object's own values. */
export function memories(W, obj, found) {
  if (obj && typeof obj == 'object') for (const k in obj) if (obj[k] instanceof W.Memory) found(obj[k])
}
