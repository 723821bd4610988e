// Types for the IIFE build (`wasmwatch/iife`): it exports nothing and defines the global
// `WasmWatch`, declared in wasmwatch.d.ts.
/// <reference path="./wasmwatch.d.ts" />
export {}
