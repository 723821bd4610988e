// The network side of the outbox: fetch (gzip where CompressionStream exists, keepalive when
// small) and sendBeacon on page hide. The key rides in the query string, so beacons work.
import { parseRetryAfter } from './outbox.js'

/** The server's base URL without trailing slashes. */
export const root = endpoint => String(endpoint).replace(/\/+$/, '')

export const ingestUrl = (endpoint, key) => root(endpoint) + '/api/v1/ingest?key=' + encodeURIComponent(key)

const gzip = body => new Response(new Blob([body]).stream()
  .pipeThrough(new CompressionStream('gzip'))).arrayBuffer()

// The fetch of the moment it is made: requests of its own are not traced (trace.js).
export function httpTransport(url, post = fetch) {
  let zip = typeof CompressionStream == 'function'
  return {
    async send(body) {
      const headers = { 'Content-Type': 'text/plain' }, zipped = zip && body.length > 1024
      if (zipped) {
        body = await gzip(body)
        headers['Content-Encoding'] = 'gzip'
      }
      try {
        const r = await post(url, { method: 'POST', body, headers,
          keepalive: (body.byteLength || body.length) < 60000 })
        await r.text() // a keepalive request holds its share of the 64 KB quota until read
        return { status: r.status, retryAfter: parseRetryAfter(r.headers.get('Retry-After')) }
      } catch (e) {
        // A server (or proxy) that refuses the gzip preflight looks like a network error:
        // send plain from now on; the batch is retried with the same ids.
        if (zipped && navigator.onLine) zip = false
        throw e
      }
    },
    beacon(body) {
      try {
        return navigator.sendBeacon(url, new Blob([body], { type: 'text/plain' }))
      } catch {
        return false
      }
    },
  }
}
