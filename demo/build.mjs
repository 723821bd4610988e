// Builds dist/: demo.wasm from src/demo.wat (wabt's wat2wasm, with the name section so stack
// traces name functions), plus the page and its script copied as they are.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import wabtInit from 'wabt'

const here = new URL('.', import.meta.url).pathname
const wabt = await wabtInit()
const module = wabt.parseWat('demo.wat', readFileSync(here + 'src/demo.wat', 'utf8'))
module.resolveNames()
module.validate()
const { buffer } = module.toBinary({ write_debug_names: true })
module.destroy()

mkdirSync(here + 'dist', { recursive: true })
writeFileSync(here + 'dist/demo.wasm', buffer)
for (const file of ['index.html', 'app.js', 'style.css']) copyFileSync(here + 'src/' + file, here + 'dist/' + file)
console.log(`dist/demo.wasm: ${buffer.length} bytes; dist/index.html, app.js, style.css`)
