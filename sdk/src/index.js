// wasmwatch browser SDK: `const ww = WasmWatch.init({endpoint, key, release, sampleRate})`.
// Before init() (and for sessions sampled out) every call goes to a no-op client that does
// nothing but run what it is given.
import { createClient, VERSION } from './client.js'
import { metrics, zero } from './metrics.js'

const resolved = () => Promise.resolve()
const nothing = () => {}

/** The client used before init(), after shutdown() and for sessions that are not sampled. */
const noop = {
  runtimeReady: nothing, error: nothing, feature: nothing, offlineSync: nothing, measure: nothing,
  gc: nothing, flush: resolved, shutdown: resolved,
  track: (name, fn) => (typeof fn == 'function' ? fn() : fn),
  wrapExports: exports => exports,
  getCurrentMetrics: () => metrics(zero(), 0, 0),
}

let client = null

/** Starts the SDK once per page; later calls return the running client. Never throws. */
export function init(config) {
  try {
    const c = config || {}
    if (!client && c.endpoint && c.key && typeof location == 'object') {
      client = createClient(c, () => { client = null }) || noop
    }
  } catch {
    client = noop
  }
  return client || noop
}

/** The running client, or the no-op client before init(). */
export const getClient = () => client || noop

/** `WasmWatch.init(...)`, plus every client method forwarded to the current client. */
export const WasmWatch = { init, getClient, VERSION }
for (const k in noop) WasmWatch[k] = (...args) => getClient()[k](...args)

export default WasmWatch
