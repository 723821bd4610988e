// A classic worker of the app's own, with no wasmwatch code in it: it loads the module by a
// relative URL, runs exports when asked, and lets a trap go uncaught.
importScripts('helper.js')
let wasm
onmessage = e => {
  if (e.data[0] == 'crash') {
    wasm.crash() // uncaught: the worker's error event
  }
  run(...e.data)
}
async function run(op, ...args) {
  if (op == 'load') {
    const { instance } = await WebAssembly.instantiateStreaming(fetch('demo-worker.wasm'), {})
    wasm = instance.exports
    postMessage(helper(Object.keys(wasm)))
  } else if (op == 'track') {
    postMessage(self.WasmWatch ? WasmWatch.track('worker_add', () => wasm.add(...args)) : 'no sdk')
  } else if (op == 'grow') {
    postMessage(wasm.memory.grow(1))
  } else if (op == 'flush') {
    await WasmWatch.flush()
    postMessage('flushed')
  } else if (op == 'where') {
    postMessage(String(location))
  }
}
