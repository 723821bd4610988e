// The IIFE build's entry: defines the global `WasmWatch`.
import { WasmWatch } from './index.js'

globalThis.WasmWatch = WasmWatch
