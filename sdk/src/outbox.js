// The delivery pipeline: a bounded queue with a rate cap, batches by count and by time, retries
// with backoff, and offline keeping. Everything outside (the network, IndexedDB, the clock) is
// passed in, so `node --test` drives it with in-memory doubles.
//
// transport: send(body) -> Promise<{status, retryAfter?}>, beacon(body) -> boolean
// store:     add(batch, maxItems) -> Promise<droppedItems>, list() -> Promise<[[key, batch]]>,
//            remove(key) -> Promise
//
// A batch is {context, lost, items}. It keeps its context and its lost counts while it waits
// offline, and its items keep their ids, so a replay stores nothing twice.

/** Milliseconds to wait before retry number `attempt` (1-based): exponential, jittered. */
export function backoff(attempt, retryAfterS, random = Math.random) {
  const exp = Math.min(60000, 1000 * 2 ** (attempt - 1)) * (0.5 + random() / 2)
  return Math.max(exp, Math.min(retryAfterS || 0, 3600) * 1000)
}

/** Seconds from a Retry-After header (delta seconds or an HTTP date); 0 when absent or bad. */
export function parseRetryAfter(header, now = Date.now()) {
  if (!header) return 0
  if (+header >= 0) return +header
  const t = Date.parse(header)
  return t > now ? (t - now) / 1000 : 0
}

const RETRY = s => !s || s == 408 || s == 429 || s >= 500

// Options share the SDK config's names (batchSize, flushInterval, ...), so init() passes its
// config straight through.
export function createOutbox({ transport, store, context, now = Date.now, random = Math.random,
  online = () => true, batchSize = 50, flushInterval = 5000, maxQueue = 500, maxStored = 5000,
  rateLimit = 20, rateBurst = 200 }) {
  let queue = [], lost = {}, tokens = rateBurst, refilled = now(), last = now(), attempt = 0,
    retryAt = 0, told = false, stored = true, due = false, timer = 0, chain = Promise.resolve()

  const lose = (reason, n = 1) => { lost[reason] = (lost[reason] || 0) + n }
  const giveBack = l => { for (const k in l) lose(k, l[k]) }
  const blocked = () => !online() || now() < retryAt
  // Durations (fields ending in "ms") go out rounded to 0.01 ms.
  const body = b => JSON.stringify({ sent_at: now(), context: b.context, lost: b.lost, items: b.items },
  (k, v) => (/ms$/.test(k) && v % 1 ? Math.round(v * 100) / 100 : v))
  const take = () => {
    const b = { context: context(), lost, items: queue.splice(0, batchSize) }
    lost = {}
    return b
  }
  const run = f => (chain = chain.then(f).catch(() => {}))

  // true: done with the batch (stored by the server, or refused for good and counted).
  async function deliver(b) {
    let r
    try { r = await transport.send(body(b)) } catch { r = { status: 0 } }
    const s = r.status
    if (s >= 200 && s < 300) return (attempt = retryAt = 0, told = false, true)
    if (!RETRY(s)) return (lose('invalid', b.items.length), giveBack(b.lost), true)
    told = s > 0
    retryAt = now() + backoff(++attempt, r.retryAfter, random)
    return false
  }

  async function keep(b) {
    stored = true
    try {
      const dropped = await store.add(b, maxStored)
      if (dropped) lose('offline_overflow', dropped)
    } catch {
      lose('offline_overflow', b.items.length)
      giveBack(b.lost)
    }
  }

  async function replay() {
    const recs = await store.list()
    stored = recs.length > 0
    for (const [key, b] of recs) {
      if (blocked() || !(await deliver(b))) return
      await store.remove(key)
    }
    stored = false
  }

  async function drain() {
    while (queue.length) {
      const b = take()
      if (blocked() || !(await deliver(b))) await keep(b)
    }
    if (stored && !blocked()) await replay()
  }

  const flush = () => (last = now(), run(drain))
  const soon = () => timer || (timer = setTimeout(() => { timer = 0; flush() }, 0))

  return {
    /** Queue one item; false (and counted in `lost`) when rate capped or the queue is full. */
    push(item) {
      const t = now()
      tokens = Math.min(rateBurst, tokens + (t - refilled) * rateLimit / 1000)
      refilled = t
      if (tokens < 1) return lose('rate_limited'), false
      if (queue.length >= maxQueue) return lose('queue_full'), false
      tokens--
      if (queue.push(item) >= batchSize) soon()
      return true
    },
    lose,
    flush,
    /** Send soon, not waiting for the batch (slow operations, critical errors); at most 1/s. */
    urgent: () => (now() - last > 1000 ? soon() : (due = true)),
    /** Called about once a second: the time trigger, and retries of kept batches. */
    tick() {
      if (due || queue.length && now() - last >= flushInterval) {
        due = false
        flush()
      } else if (stored && !blocked()) run(replay)
    },
    /** Back online: retry now, unless the server itself asked us to wait. */
    wake() {
      if (!told) retryAt = attempt = 0
      flush()
    },
    /** The page is going away: beacon what is queued, keep what cannot go. */
    hide() {
      while (queue.length) {
        const b = take()
        if (blocked() || !transport.beacon(body(b))) keep(b)
      }
    },
  }
}
