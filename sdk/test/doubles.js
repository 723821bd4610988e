// Test doubles for the outbox's seams: a transport that records and answers as told, a clock.
export { memoryStore } from '../src/store.js'

export function fakeTransport(answers = []) {
  const sent = [], beacons = []
  return {
    sent, beacons, answers, beaconOk: true,
    async send(body) {
      sent.push(JSON.parse(body))
      const a = this.answers.shift() || { status: 200 }
      if (a.status == 'throw') throw new TypeError('Failed to fetch')
      return a
    },
    beacon(body) {
      if (this.beaconOk) beacons.push(JSON.parse(body))
      return this.beaconOk
    },
  }
}

export function manualClock(t = 1_000_000) {
  const clock = () => t
  clock.advance = ms => { t += ms }
  return clock
}

/** Lets queued timers (setTimeout 0) and promise chains run. */
export const settle = () => new Promise(r => setTimeout(r, 5))

export const ids = envelopes => envelopes.flatMap(e => e.items.map(i => i.id))

export const items = (n, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ id: 'x.' + (from + i), type: 'feature', ts: 1, name: 'f' }))
