// Builds dist/: index.html, app.js (one minified bundle with uPlot) and app.css (uPlot's CSS +
// ours). Everything is served by wasmwatch under /dashboard/; nothing comes from a CDN.
// index.html refers to app.js and app.css with a content hash so a new build is never mixed
// with a cached old one.
import { build } from 'esbuild'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const here = new URL('.', import.meta.url).pathname
const dist = here + 'dist/'

const bundle = async (entry, extra = {}) => (await build({
  entryPoints: [here + entry], bundle: true, minify: true, write: false, legalComments: 'none',
  logLevel: 'warning', ...extra,
})).outputFiles[0].text

const js = await bundle('src/app.js', { format: 'iife', target: 'es2020' })
const css = await bundle('src/style.css', { loader: { '.css': 'css' } })
const hash = text => createHash('sha256').update(text).digest('hex').slice(0, 10)
const html = readFileSync(here + 'src/index.html', 'utf8')
  .replace('app.css"', `app.css?v=${hash(css)}"`)
  .replace('app.js"', `app.js?v=${hash(js)}"`)

rmSync(dist, { recursive: true, force: true })
mkdirSync(dist, { recursive: true })
for (const [name, text] of [['index.html', html], ['app.js', js], ['app.css', css]]) {
  writeFileSync(dist + name, text)
  console.log(`dist/${name}: ${text.length} B, ${gzipSync(text).length} B gzipped`)
}
