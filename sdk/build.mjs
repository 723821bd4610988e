// Builds dist/: wasmwatch.js (ES module), wasmwatch.iife.js (global WasmWatch), wasmwatch.worker.js
// (the worker build: global WasmWatch in a worker, loaded by the page's wrapper or by the app),
// wasmwatch.page-workers.js (the page side of worker support, imported after init()), and types.
// Prints each bundle's minified and gzipped size; --check-size fails above the 6 KB budget.
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

export const BUDGET = 6 * 1024
const here = new URL('.', import.meta.url).pathname
// Internal property names (some of the outbox's and the store's methods, the load hook and its
// start/end times, the client's counters) are mangled: none is public API, goes over the wire or
// crosses builds (worker support calls the outbox's push, lose, urgent and flush: those keep their names).
export const INTERNAL = /^(tick|wake|hide|loaded|syncs|uses|visible|list|start|end|sum)$/
const common = { bundle: true, minify: true, target: 'es2020', legalComments: 'none', logLevel: 'warning',
  mangleProps: INTERNAL }

/** Minified bundles in memory: {esm, iife, worker} as strings. */
export async function bundles() {
  const one = async (entry, format) => (await build({ ...common, entryPoints: [here + entry], format,
    write: false })).outputFiles[0].text
  return { esm: await one('src/index.js', 'esm'), iife: await one('src/global.js', 'iife'),
    worker: await one('src/worker.js', 'iife'), pageWorkers: await one('src/workers.js', 'esm') }
}

export const gzSize = text => gzipSync(text, { level: 9 }).length

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await bundles()
  mkdirSync(here + 'dist', { recursive: true })
  const { writeFileSync } = await import('node:fs')
  writeFileSync(here + 'dist/wasmwatch.js', out.esm)
  writeFileSync(here + 'dist/wasmwatch.iife.js', out.iife)
  writeFileSync(here + 'dist/wasmwatch.worker.js', out.worker)
  writeFileSync(here + 'dist/wasmwatch.page-workers.js', out.pageWorkers)
  copyFileSync(here + 'src/wasmwatch.d.ts', here + 'dist/wasmwatch.d.ts')
  copyFileSync(here + 'src/wasmwatch.iife.d.ts', here + 'dist/wasmwatch.iife.d.ts')
  let over = false
  for (const [name, file] of [['esm', 'wasmwatch.js'], ['iife', 'wasmwatch.iife.js']]) {
    const gz = gzSize(readFileSync(here + 'dist/' + file))
    over ||= gz > BUDGET
    console.log(`dist/${file}: ${out[name].length} B minified, ${gz} B gzipped (budget ${BUDGET})`)
  }
  console.log(`dist/wasmwatch.worker.js: ${out.worker.length} B minified, ${gzSize(out.worker)} B gzipped ` +
    '(loaded only inside workers)')
  console.log(`dist/wasmwatch.page-workers.js: ${out.pageWorkers.length} B minified, ` +
    `${gzSize(out.pageWorkers)} B gzipped (imported by the page after init())`)
  if (process.argv.includes('--check-size') && over) {
    console.error('over the size budget')
    process.exit(1)
  }
}
