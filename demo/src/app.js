// The demo app: loads demo.wasm the usual way (instantiateStreaming), lets the SDK measure
// everything, and generates realistic traffic so a new user sees data arrive at once.
import { WasmWatch } from '/sdk/wasmwatch.js'

const config = window.WASMWATCH_CONFIG || {}
const ww = WasmWatch.init({ ...config, release: config.release || 'demo-1',
  baselines: { fib: 4, work: 6, add: 0.05 } })
const $ = id => document.getElementById(id)
let wasm

function log(text, error) {
  const li = document.createElement('li')
  li.textContent = `${new Date().toLocaleTimeString()}  ${text}`
  if (error) li.className = 'err'
  $('log').prepend(li)
  while ($('log').children.length > 200) $('log').lastChild.remove()
}

// Calls through the wrapped exports are operations; a trap is recorded by the SDK (kind,
// wasm frames, operation) and rethrown to us, as it would be without the SDK.
function call(name, ...args) {
  try {
    const result = wasm[name](...args)
    log(`${name}(${args.join(', ')}) = ${result}`)
    return result
  } catch (err) {
    log(`${name}(${args.join(', ')}) trapped: ${err.message}`, true)
  }
}

const actions = {
  run: () => call('fib', 24),
  work: () => call('work', 2_000_000),
  trap: () => call('divide', 1, 0),
  crash: () => call('crash'),
  grow: () => call('grow', 1),
  feature: () => {
    // The seed's DOM event works as well as ww.feature('export').
    window.dispatchEvent(new CustomEvent('wasm-feature-used', { detail: { feature: 'export' } }))
    log('feature used: export')
  },
  sync: () => {
    const started = performance.now(), queued = 1 + Math.floor(Math.random() * 8)
    const conflicts = Math.random() < 0.2 ? 1 : 0
    for (let i = 0; i < queued; i++) call('work', 50_000)
    ww.offlineSync({ synced: queued, ms: performance.now() - started, conflicts, ok: true, pending: 0 })
    log(`offline sync: ${queued} operations, ${conflicts} conflicts`)
  },
}

// One second of a plausible user: mostly cheap calls, now and then something heavy, a feature,
// a sync, a custom measurement, rarely a trap.
function autoStep() {
  const r = Math.random()
  if (r < 0.45) call('fib', 15 + Math.floor(Math.random() * 12))
  else if (r < 0.7) call('work', Math.floor(10_000 + Math.random() * 1_500_000))
  else if (r < 0.8) call('add', Math.floor(Math.random() * 100), Math.floor(Math.random() * 100))
  else if (r < 0.87) ww.feature(['export', 'search', 'share', 'offline_mode'][Math.floor(Math.random() * 4)])
  else if (r < 0.92) ww.measure('fps', 50 + Math.random() * 10, { scene: 'editor' }, 'fps')
  else if (r < 0.95) actions.sync()
  else if (r < 0.98) call(...[['divide', 1, 0], ['crash'], ['peek', 1 << 30]][Math.floor(Math.random() * 3)])
  else if (wasm.pages() < 64) call('grow', 1)
}

async function main() {
  const { instance } = await WebAssembly.instantiateStreaming(fetch('demo.wasm'), {})
  ww.runtimeReady()
  wasm = ww.wrapExports(instance.exports)
  $('status').textContent = `module loaded; sending to ${config.endpoint || '(no endpoint configured)'}`
  for (const [id, action] of Object.entries(actions)) $(id).addEventListener('click', action)
  setInterval(() => {
    if ($('auto').checked) autoStep()
    $('metrics').textContent = JSON.stringify(ww.getCurrentMetrics(), null, 2)
  }, 1000)
}

main().catch(err => {
  $('status').textContent = `failed to start: ${err.message}`
  ww.error(err, { category: 'critical' })
})
