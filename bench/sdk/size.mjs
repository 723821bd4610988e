// Minified+gzipped sizes: the wasmwatch SDK (its own build) against web-vitals and
// @sentry/browser bundled by the same esbuild with the same settings. Prints JSON.
import { build } from 'esbuild'
import { gzipSync } from 'node:zlib'
import { bundles } from '../../sdk/build.mjs'

const here = new URL('.', import.meta.url).pathname
const settings = { bundle: true, minify: true, target: 'es2020', legalComments: 'none', format: 'esm',
  write: false, logLevel: 'error' }
const gz = text => gzipSync(text, { level: 9 }).length

// What an app would ship: the typical set-up, and everything the package exports.
const ENTRIES = {
  'web-vitals: onLCP+onINP+onCLS+onFCP+onTTFB': `import { onLCP, onINP, onCLS, onFCP, onTTFB } from 'web-vitals'
    const report = m => navigator.sendBeacon('/vitals', JSON.stringify(m))
    onLCP(report); onINP(report); onCLS(report); onFCP(report); onTTFB(report)`,
  'web-vitals: all exports': `export * from 'web-vitals'`,
  '@sentry/browser: init + captureException': `import * as Sentry from '@sentry/browser'
    Sentry.init({ dsn: 'https://key@o0.ingest.sentry.io/0', release: '1.0.0' })
    window.report = e => Sentry.captureException(e)`,
  '@sentry/browser: all exports': `export * from '@sentry/browser'`,
}

const rows = []
const sdk = await bundles()
rows.push({ name: 'wasmwatch: ES module (whole SDK)', min: sdk.esm.length, gz: gz(sdk.esm) })
rows.push({ name: 'wasmwatch: IIFE (whole SDK)', min: sdk.iife.length, gz: gz(sdk.iife) })
// Loaded apart from the page build: inside workers, and by the page after init()
rows.push({ name: 'wasmwatch: worker build (inside workers only)', min: sdk.worker.length, gz: gz(sdk.worker),
  apart: true })
rows.push({ name: 'wasmwatch: worker support (page, after init())', min: sdk.pageWorkers.length,
  gz: gz(sdk.pageWorkers), apart: true })
for (const [name, contents] of Object.entries(ENTRIES)) {
  const out = await build({ ...settings, stdin: { contents, resolveDir: here, loader: 'js' } })
  const text = out.outputFiles[0].text
  rows.push({ name, min: text.length, gz: gz(text) })
}
console.log(JSON.stringify(rows))
