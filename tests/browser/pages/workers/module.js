// A module worker of the app's own: a relative static import, a module found by import.meta.url.
import { names } from './module-helper.js'

onmessage = async e => {
  const [op] = e.data
  if (op == 'load') {
    const url = new URL('demo-module.wasm', import.meta.url)
    const module = await WebAssembly.compileStreaming(fetch(url))
    const instance = await WebAssembly.instantiate(module, {})
    self.wasm = instance.exports
    postMessage(names(instance.exports))
  } else if (op == 'divide') {
    setTimeout(() => postMessage('after'), 50)
    self.wasm.divide(1, 0) // in an async handler: an unhandled rejection
  } else if (op == 'track') {
    postMessage(await WasmWatch.track('module_op', async () => self.wasm.add(20, 22)))
  } else if (op == 'flush') {
    await WasmWatch.flush()
    postMessage('flushed')
  }
}
