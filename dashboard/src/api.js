// The admin API: every request carries the token; a 401 throws Unauthorized.

const KEY = 'wasmwatch.token'

export class Unauthorized extends Error {}

export class ApiError extends Error {
  constructor (status, message) {
    super(message)
    this.status = status
  }
}

/** The token from `#token=...` (then removed from the address bar) or localStorage. */
export function loadToken () {
  const hash = new URLSearchParams(location.hash.slice(1))
  const fromHash = hash.get('token')
  if (fromHash) {
    saveToken(fromHash)
    hash.delete('token')
    const rest = hash.toString()
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''))
    return fromHash
  }
  try { return localStorage.getItem(KEY) || '' } catch { return '' }
}

export function saveToken (token) {
  try { localStorage.setItem(KEY, token) } catch { /* private mode: keep it in memory only */ }
}

export function clearToken () {
  try { localStorage.removeItem(KEY) } catch { /* nothing stored */ }
}

export function query (params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  return q.toString()
}

export async function get (token, path, params = {}) {
  const qs = query(params)
  let res
  try {
    res = await fetch(path + (qs ? '?' + qs : ''), {
      headers: { authorization: 'Bearer ' + token, accept: 'application/json' },
      cache: 'no-store',
    })
  } catch (err) {
    throw new ApiError(0, 'cannot reach the server (' + (err && err.message ? err.message : err) + ')')
  }
  if (res.status === 401) throw new Unauthorized('the admin token was not accepted')
  let body = null
  try { body = await res.json() } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, (body && body.error) || `HTTP ${res.status}`)
  return body
}

/** POST or DELETE with a JSON body; same errors as get(). */
export async function send (token, method, path, body) {
  let res
  try {
    res = await fetch(path, {
      method,
      headers: { authorization: 'Bearer ' + token, accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (err) {
    throw new ApiError(0, 'cannot reach the server (' + (err && err.message ? err.message : err) + ')')
  }
  if (res.status === 401) throw new Unauthorized('the admin token was not accepted')
  let answer = null
  try { answer = await res.json() } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, (answer && answer.error) || `HTTP ${res.status}`)
  return answer
}

/** POST a JSON body; answers the JSON reply (errors as in get()). */
export const post = (token, path, body) => send(token, 'POST', path, body)
