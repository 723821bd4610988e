// Session identity and per-session sampling. Pure apart from the storage passed in.

/** n random digits of base `radix`, [0-9a-z] by default (16: lowercase hex, uniform). */
export function rid(n, radix = 36) {
  let s = ''
  for (const b of crypto.getRandomValues(new Uint8Array(n))) s += (b % radix).toString(radix)
  return s
}

/** A session id's own random characters, as a uniform draw in [0, 1). */
export const draw = id => parseInt(id.slice(0, 8), 36) / 36 ** 8

/** Whether session `id` is kept at `rate` (0..1): the same answer on every page of the tab. */
export const sampled = (id, rate = 1) => draw(id) < rate

/** The tab's session id, kept in sessionStorage (random per tab, not a person). */
export function sessionId(storage) {
  try {
    let id = storage.getItem('wasmwatch.session')
    if (!id) storage.setItem('wasmwatch.session', id = rid(16))
    return id
  } catch {
    return rid(16)
  }
}
