// A worker made before the page's init(): it starts wasmwatch itself, with one line.
importScripts('/sdk/wasmwatch.worker.js'); WasmWatch.init(Object.fromEntries(new URLSearchParams(location.search)))

onmessage = async e => {
  const [op] = e.data
  if (op == 'load') {
    const bytes = await (await fetch('demo-optin.wasm')).arrayBuffer()
    const { instance } = await WebAssembly.instantiate(bytes, {})
    self.wasm = instance.exports
    postMessage(WasmWatch.track('optin_add', () => instance.exports.add(1, 2)))
  } else if (op == 'crash') {
    setTimeout(() => postMessage('after'), 50)
    self.wasm.peek(1 << 30)
  } else if (op == 'flush') {
    await WasmWatch.flush()
    postMessage('flushed')
  }
}
