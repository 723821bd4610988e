// The live client: measures the page and the WebAssembly runtime, turns what it sees into
// protocol items (docs/protocol.md) and hands them to the outbox. Every entry point is
// guarded: the SDK never throws into the host page, except what a tracked function throws.
import { describe, createStorm, stormKey } from './errors.js'
import { createBaselines } from './ops.js'
import { createOutbox } from './outbox.js'
import { idbStore } from './store.js'
import { instrument } from './wasm.js'
import { httpTransport, ingestUrl, root } from './transport.js'
import { rid, sampled, sessionId } from './session.js'
import { metrics, zero } from './metrics.js'
import { traceFetch } from './trace.js'

export const VERSION = '0.1.0'

const now = () => performance.now()
const num = x => (typeof x == 'number' && isFinite(x) ? x : undefined)
const str = x => (x == null ? undefined : String(x).slice(0, 256))
const guard = f => function () { try { return f.apply(this, arguments) } catch {} }

/** A started client, or null when this session is sampled out. */
export function createClient(cfg, onShutdown) {
  const G = globalThis, nav = navigator, perf = performance, W = G.WebAssembly, doc = G.document
  // A worker the page wrapped gets the page's session (workers.js)
  const session = cfg._session || sessionId(G.sessionStorage)
  if (!sampled(session, cfg.sampleRate ?? 1)) return null

  const t0 = now(), load = rid(8), offs = [], seen = new WeakSet(), mems = new Map(), open = new Set()
  const baseline = createBaselines(cfg.baselines, cfg.slowMs)
  const storm = createStorm()
  const recent = new Float64Array(100)
  const m = zero()
  let seq = 0, ticks = 0, closed = false, grows = 0, gcCount = 0, gcMs = 0, memDirty = false,
    memSent = 0, used = new WeakSet()

  const online = () => nav.onLine
  const visible = () => doc && doc.visibilityState != 'hidden'
  const page = () => location.pathname
  // In a worker started by the page's SDK, cfg._outbox relays to the page's outbox (worker.js).
  const outbox = cfg._outbox || createOutbox({
    ...cfg, online, store: idbStore(),
    transport: cfg.transport || httpTransport(ingestUrl(cfg.endpoint, cfg.key)),
    context: () => ({ session, release: str(cfg.release), page: page(),
      connection: (nav.connection || {}).effectiveType || 'unknown', online: online(), sdk: VERSION }),
  })

  const emit = (type, fields) => !closed &&
    outbox.push({ id: load + '.' + (++seq).toString(36), type, ts: Date.now(), ...fields })
  const on = (target, type, f) => {
    f = guard(f)
    target.addEventListener(type, f)
    offs.push(() => target.removeEventListener(type, f))
  }

  // -- memory --------------------------------------------------------------------------------
  const addMemory = mem => mems.has(mem) || (mems.set(mem, mem.buffer.byteLength), memDirty = true)
  // Linear memory bytes now; counts grows, and emits a memory item when something changed
  // (or when forced, or every 30 s).
  function sample(force) {
    let bytes = 0
    for (const [mem, was] of mems) {
      const n = mem.buffer.byteLength
      bytes += n
      if (n != was) grows++, mems.set(mem, n), memDirty = true
    }
    const heap = (perf.memory || {}).usedJSHeapSize
    if (heap) m.heap = heap
    if ((mems.size || gcCount) && (memDirty || force || Date.now() - memSent > 30000)) {
      memDirty = false
      memSent = Date.now()
      emit('memory', { wasm_bytes: bytes, js_heap_bytes: heap, grow_count: grows,
        ...(gcCount && { gc_count: gcCount, gc_ms: gcMs }) })
    }
    return bytes
  }

  // -- errors --------------------------------------------------------------------------------
  function report(err, ctx, fallbackName) {
    if (Object(err) === err) {
      if (seen.has(err)) return
      seen.add(err)
    }
    ctx = ctx || {}
    const d = describe(err, fallbackName)
    m.errs++
    if (!storm(stormKey(d), Date.now())) return outbox.lose('rate_limited')
    const category = ctx.category || d.category
    emit('error', { ...d, category, operation: str(ctx.operation),
      memory_bytes: sample() || m.heap || undefined })
    if (category == 'critical') outbox.urgent()
  }

  // -- operations ----------------------------------------------------------------------------
  function operation(name, ms, ok, err, op, expected, offline) {
    name = str(name) || 'unknown'
    const [base, slow] = baseline(name, ms)
    const given = num(expected)
    expected = given || base
    offline = offline ?? !online()
    m.ops++
    if (offline) m.offs++
    m.sum += ms - recent[m.n % 100]
    recent[m.n++ % 100] = ms
    emit('operation', { name, ms, ok, offline: !!offline, expected_ms: expected, trace_id: op.t })
    if (err) report(err, { operation: name })
    if (slow || ms > 1.5 * given) outbox.urgent()
  }
  const done = guard(operation)

  function run(name, fn, self, args) {
    if (typeof fn != 'function') return fn
    // `end` stands for the operation in `open`; end.t: its trace id, once it made a
    // same-origin fetch (trace.js)
    const t = now(), end = (ok, e) => (open.delete(end), done(name, now() - t, ok, e, end))
    let r
    open.add(end)
    try {
      r = fn.apply(self, args)
    } catch (e) {
      end(false, e)
      throw e
    }
    if (r && typeof r.then == 'function') return r.then(v => (end(true), v), e => { end(false, e); throw e })
    end(true)
    return r
  }

  // -- bundle load ---------------------------------------------------------------------------
  // The resource timing entry of the module: by URL when streaming, else the latest .wasm
  // response that ended before compilation started.
  function timing(info) {
    const list = perf.getEntriesByType('resource')
    for (let i = list.length; i--;) {
      const e = list[i]
      if (!used.has(e) && (info.url ? e.name == info.url
        : /\.wasm([?#]|$)/.test(e.name) && e.responseEnd <= info.start + 1)) {
        used.add(e)
        return e
      }
    }
  }
  function bundle(info, late) {
    const e = timing(info)
    if (!e && !late) return setTimeout(guard(bundle), 100, info, 1)
    const start = e ? Math.min(e.startTime, info.start) : info.start
    const known = e && (e.transferSize || e.decodedBodySize)
    m.load = info.end - start
    emit('bundle_load', { url: str(info.url || (e && e.name)), streaming: !!info.streaming,
      total_ms: m.load, fetch_ms: e && e.responseEnd - e.startTime, compile_ms: info.compile_ms,
      instantiate_ms: info.instantiate_ms, ...(known && { transfer_bytes: e.transferSize,
        decoded_bytes: e.decodedBodySize, cached: e.transferSize < e.encodedBodySize }) })
  }

  // -- engagement ----------------------------------------------------------------------------
  let segStart = visible() ? now() : -1, segOnline = online()
  function segment() {
    if (segStart >= 0) {
      const ms = now() - segStart
      m.visible += ms
      if (ms >= 1) emit('engagement', { visible_ms: ms, online: segOnline, page: page() })
    }
    segStart = visible() ? now() : -1
    segOnline = online()
  }
  function hide() {
    segment()
    sample(true)
    outbox.hide()
  }

  // -- public API ----------------------------------------------------------------------------
  const ready = ms => emit('runtime_init', { ms: m.init = ms })
  const api = {
    runtimeReady(start) {
      const s = typeof start == 'string' ? (perf.getEntriesByName(start, 'mark')[0] || {}).startTime : start
      ready(now() - (num(s) ?? t0))
    },
    track: (name, fn) => run(name, fn),
    wrapExports(exports) {
      try {
        const out = {}
        for (const k in exports) {
          const f = exports[k]
          if (W && f instanceof W.Memory) addMemory(f)
          out[k] = typeof f == 'function' ? function () { return run(k, f, this, arguments) } : f
        }
        return out
      } catch {
        return exports
      }
    },
    error(err, context) { report(err, context) },
    feature(name) {
      name = str(name)
      if (!name) return
      m.feats[name] = (m.feats[name] || 0) + 1
      m.uses++
      emit('feature', { name })
    },
    offlineSync(r) {
      r = r || {}
      m.syncs++
      if (r.ok !== false) m.synced++
      emit('offline_sync', { synced: num(r.synced) || 0, ms: num(r.ms), conflicts: num(r.conflicts),
        ok: r.ok !== false, pending: num(r.pending) })
    },
    // The server checks tags (at most 16 string, number or boolean values).
    measure(name, value, tags, unit) {
      if (num(value) != null && str(name)) {
        emit('measurement', { name: str(name), value, unit: str(unit), tags })
      }
    },
    gc(r) {
      r = r || {}
      gcCount += num(r.count) ?? 1
      gcMs += num(r.ms) || 0
      memDirty = true
    },
    flush: () => (sample(), outbox.flush()),
    getCurrentMetrics: () => metrics(m, segStart >= 0 ? now() - segStart : 0, sample()),
    shutdown() {
      if (closed) return outbox.flush()
      restore()
      untrace()
      unwrap()
      offs.forEach(f => f())
      clearInterval(timer)
      segment()
      sample(true)
      closed = true
      onShutdown()
      return outbox.flush()
    },
  }
  for (const k in api) if (!/^(track|wrapExports)$/.test(k)) api[k] = guard(api[k])

  // -- wiring --------------------------------------------------------------------------------
  const restore = cfg.instrument !== false && W
    ? instrument(W, { loaded: guard(bundle), memory: guard(addMemory), error: guard(report) }, now)
    : () => {}
  const untrace = G.fetch ? traceFetch(G, session, open) : () => {}
  const dom = {
    'wasm-bundle-loaded': d => emit('bundle_load', { total_ms: m.load = num(d.duration) || 0,
      url: str(d.url) }),
    'wasm-runtime-ready': d => ready(num(d.duration) || 0),
    'wasm-operation': d => operation(d.type || d.name, num(d.duration) || 0, d.ok !== false, 0, 0, d.expected,
      d.offline),
    'wasm-error': d => report(d.error || d, d),
    'wasm-feature-used': d => api.feature(d.feature),
  }
  // Worker support loads after init() (workers.js, built as /sdk/wasmwatch.page-workers.js).
  const base = cfg.sdkUrl || root(cfg.endpoint) + '/sdk/'
  let unwrap = () => {}
  if (cfg.workers !== false) import(base + 'wasmwatch.page-workers.js')
    .then(x => closed || (unwrap = x.wrapWorkers(G, cfg, base, outbox))).catch(() => {})
  for (const k in dom) on(G, k, e => dom[k](e.detail || {}))
  if (cfg.captureErrors !== false) {
    // A wrapped worker's uncaught error, reported by the worker, echoes here (workers.js).
    on(G, 'error', e => e.message == G.__wasmwatch_echo || report(e.error || e))
    on(G, 'unhandledrejection', e => report(e.reason, 0, 'UnhandledRejection'))
  }
  if (doc) {
    on(doc, 'visibilitychange', () => (visible() ? segment() : hide()))
    on(G, 'pagehide', hide)
  }
  on(G, 'online', () => { segment(); outbox.wake() })
  on(G, 'offline', segment)
  const timer = setInterval(guard(() => {
    if (++ticks % 5 == 0) sample()
    if (ticks % 60 == 0) segment()
    outbox.tick()
  }), 1000)
  return api
}
