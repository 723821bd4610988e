// Type declarations for the wasmwatch browser SDK (ES module `wasmwatch` and global `WasmWatch`).

export interface Transport {
  /** POST one JSON envelope; resolve with the HTTP status (0 for a network failure). */
  send(body: string): Promise<{ status: number; retryAfter?: number }>
  /** Queue one JSON envelope while the page goes away; false if it could not be queued. */
  beacon(body: string): boolean
}

export interface Config {
  /** Server base URL, e.g. "https://telemetry.example.com". */
  endpoint: string
  /** The project's public ingest key. */
  key: string
  /** Bundle version, sent with every batch. */
  release?: string
  /** Share of sessions (tabs) that report, 0..1. Default 1. */
  sampleRate?: number
  /** Send when this many items are queued. Default 50. */
  batchSize?: number
  /** Send queued items at least this often, in ms. Default 5000. */
  flushInterval?: number
  /** Items held in memory before new ones are dropped (counted as `queue_full`). Default 500. */
  maxQueue?: number
  /** Items kept in IndexedDB while offline; the oldest are dropped first. Default 5000. */
  maxStored?: number
  /** Client-side rate cap: items per second (token bucket). Default 20. */
  rateLimit?: number
  /** Burst allowance of the rate cap. Default 200. */
  rateBurst?: number
  /** Expected duration in ms per operation name; others get a running baseline. */
  baselines?: Record<string, number>
  /** An operation over this many ms is slow whatever its baseline. Default 1000. */
  slowMs?: number
  /** Wrap the WebAssembly loading APIs. Default true. */
  instrument?: boolean
  /** Report window `error` and `unhandledrejection`. Default true. */
  captureErrors?: boolean
  /** Replace the network side (tests, custom delivery). */
  transport?: Transport
  /**
   * Instrument dedicated workers the page makes after init() (no code in the worker): their
   * WebAssembly loads, traps, memory and `WasmWatch.track()` report through this client.
   * Default true. Worker support loads from `sdkUrl` a moment after init(); workers made before
   * that, and where the page's CSP forbids blob: workers, are left as they are.
   */
  workers?: boolean
  /** Where the SDK's files are served (worker support, the worker build). Default `${endpoint}/sdk/`. */
  sdkUrl?: string
}

export interface ErrorContext {
  /** The operation the error happened in. */
  operation?: string
  /** Override the category the SDK derives. */
  category?: 'critical' | 'runtime' | 'application'
}

export interface SyncResult {
  /** Operations synced. */
  synced: number
  ms?: number
  conflicts?: number
  ok?: boolean
  /** Operations still waiting. */
  pending?: number
}

export interface Metrics {
  runtime: {
    heap_usage: number
    wasm_memory: number
    initialization_time: number
    operation_count: number
    error_count: number
  }
  performance: {
    bundle_load_time: number
    average_operation_time: number
    offline_operations: number
    sync_success_rate: number
  }
  business: {
    time_on_page: number
    feature_usage: Record<string, number>
    engagement_score: number
  }
  collected_at: string
}

export interface Client {
  /** Record runtime start-up: ms from init() (or from `start`: a performance.now() value or a mark name). */
  runtimeReady(start?: number | string): void
  /** Run `fn` and record it as operation `name`; returns what fn returns, rethrows what it throws. */
  track<T>(name: string, fn: () => T): T
  /** A copy of `exports` whose functions are tracked under their export names. */
  wrapExports<T extends object>(exports: T): T
  /** Report an error (any value). */
  error(err: unknown, context?: ErrorContext): void
  /** Count one use of a feature. */
  feature(name: string): void
  /** Report the result of an app-level offline sync. */
  offlineSync(result: SyncResult): void
  /** A custom measurement. */
  measure(name: string, value: number, tags?: Record<string, string | number | boolean>, unit?: string): void
  /** Report garbage collections of a runtime with its own collector (count defaults to 1). */
  gc(report?: { count?: number; ms?: number }): void
  /** Settles once the queue is sent, or kept offline. Never rejects. */
  flush(): Promise<void>
  /** Running totals (the seed's shape). */
  getCurrentMetrics(): Metrics
  /** Restore the WebAssembly functions, remove listeners, send what is queued. */
  shutdown(): Promise<void>
}

/** Start the SDK (once per page; later calls return the same client). Never throws. */
export function init(config: Config): Client
/** The running client, or a no-op client before init(). */
export function getClient(): Client

export declare const WasmWatch: Client & {
  init: typeof init
  getClient: typeof getClient
  VERSION: string
}
export default WasmWatch

declare global {
  /**
   * The IIFE build (`/sdk/wasmwatch.iife.js`) defines this global; so does the worker build
   * (`/sdk/wasmwatch.worker.js`) inside a worker, where `WasmWatch.init({endpoint, key})` starts
   * a client of its own (a worker the page's SDK did not wrap) or returns the running one.
   */
  var WasmWatch: Client & { init: typeof init; getClient: typeof getClient; VERSION: string }
}
