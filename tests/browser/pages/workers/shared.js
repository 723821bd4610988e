// A shared worker (no page client can wrap it): the one-line opt-in, then its own work.
importScripts('/sdk/wasmwatch.worker.js'); WasmWatch.init(Object.fromEntries(new URLSearchParams(location.search)))

onconnect = e => {
  const port = e.ports[0]
  port.onmessage = async () => {
    const { instance } = await WebAssembly.instantiateStreaming(fetch('demo-shared.wasm'))
    const sum = WasmWatch.track('shared_add', () => instance.exports.add(2, 2))
    await WasmWatch.flush()
    port.postMessage(sum)
  }
}
