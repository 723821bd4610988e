// Builds dist/: wasmwatch.js (ES module), wasmwatch.iife.js (global WasmWatch), and their types.
// Prints each bundle's minified and gzipped size; --check-size fails above the 6 KB budget.
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

export const BUDGET = 6 * 1024
const here = new URL('.', import.meta.url).pathname
const common = { bundle: true, minify: true, target: 'es2020', legalComments: 'none', logLevel: 'warning' }

/** Minified bundles in memory: {esm, iife} as strings. */
export async function bundles() {
  const one = async (entry, format) => (await build({ ...common, entryPoints: [here + entry], format,
    write: false })).outputFiles[0].text
  return { esm: await one('src/index.js', 'esm'), iife: await one('src/global.js', 'iife') }
}

export const gzSize = text => gzipSync(text, { level: 9 }).length

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await bundles()
  mkdirSync(here + 'dist', { recursive: true })
  const { writeFileSync } = await import('node:fs')
  writeFileSync(here + 'dist/wasmwatch.js', out.esm)
  writeFileSync(here + 'dist/wasmwatch.iife.js', out.iife)
  copyFileSync(here + 'src/wasmwatch.d.ts', here + 'dist/wasmwatch.d.ts')
  copyFileSync(here + 'src/wasmwatch.iife.d.ts', here + 'dist/wasmwatch.iife.d.ts')
  let over = false
  for (const [name, file] of [['esm', 'wasmwatch.js'], ['iife', 'wasmwatch.iife.js']]) {
    const gz = gzSize(readFileSync(here + 'dist/' + file))
    over ||= gz > BUDGET
    console.log(`dist/${file}: ${out[name].length} B minified, ${gz} B gzipped (budget ${BUDGET})`)
  }
  if (process.argv.includes('--check-size') && over) {
    console.error('over the size budget')
    process.exit(1)
  }
}
