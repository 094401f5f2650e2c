/**
 * Shared steps of the store-side expiry tests (RedisStore.watchExpiry on one server,
 * a Sentinel group or a Cluster): polling with a deadline, an HTTP app that creates
 * sessions and logs them in, and the forward check — a renewal's forward lapsing is
 * never reported as a session's expiry.
 */
import type { Test } from 'tap'
import { type ExpiredEvent, SessionManager } from '../../lib/index.js'
import type { ExpiryWatchStore } from '../../lib/store.js'
import { Client, listen, type Running } from './http.js'

/** Poll `check` every 50 ms until true; throws after `ms`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 8000): Promise<number> {
  const begin = Date.now()
  while (Date.now() - begin < ms) {
    if (await Promise.resolve().then(check).catch(() => false)) return Date.now() - begin
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** An app whose `/` creates a session (answering its id) and whose `/login` logs it in. */
export async function sessionApp(t: Test, manager: SessionManager): Promise<Running> {
  const server = await listen(manager.loadAndSave(async (req, res) => {
    if (req.url === '/login') await manager.login(req, 'user-1')
    else manager.put(req, 'n', 1)
    manager.token(req) // a new session gets its key (and id) now
    res.end(manager.sessionId(req))
  }))
  t.teardown(() => server.close())
  return server
}

/**
 * A login's 60 s forward (under a manager whose clock runs 59 s late, so it lapses a
 * second later in real time) is not reported, while a plain session with a short
 * lifetime, created alongside on the same store and prefix, is. `markers` counts the
 * forward markers in the store's keyspace: one is written with the forward, and the
 * watcher consumes it when the forward expires.
 */
export async function forwardNotReported(t: Test, store: ExpiryWatchStore, prefix: string, markers: () => Promise<number>): Promise<void> {
  const late = new SessionManager({ store, prefix, lifetime: '1h', now: () => Date.now() - 59_000 })
  const plain = new SessionManager({ store, prefix, lifetime: 1500 })
  const expired: ExpiredEvent[] = []
  late.on('expired', (e) => expired.push(e))
  let previousId = ''
  let renewedAt = 0
  late.on('renewed', (e) => {
    previousId = e.previousId
    renewedAt = Date.now()
  })
  const stop = await late.watchExpiry()
  t.teardown(stop)
  const [lateApp, plainApp] = [await sessionApp(t, late), await sessionApp(t, plain)]

  const browser = new Client(lateApp.url)
  const first = (await browser.get('/')).body
  const before = await markers()
  const renewedId = (await browser.get('/login')).body
  const short = (await new Client(plainApp.url).get('/')).body
  t.equal(previousId, first, 'the login renewed the session')
  t.not(renewedId, first, 'under a new id')
  t.equal(await markers(), before + 1, 'the forward commit wrote its marker')
  await until('the plain session reported and the forward lapsed', async () =>
    expired.some((e) => e.id === short) && Date.now() - renewedAt > 3000 && (await markers()) === before, 15_000)
  await new Promise((r) => setTimeout(r, 300)) // any late event for the forward
  t.ok(expired.some((e) => e.id === short), 'the plain session is reported')
  t.notOk(expired.some((e) => e.id === first), 'the forward at the old id is not reported')
  t.notOk(expired.some((e) => e.id === renewedId), 'the renewed session (1 h left) is not reported')
}

/** A session created on `url` (its id, from `sessionApp`'s `/`) and when. */
export interface Probe { id: string; at: number }

/**
 * Create a session on `url` every `everyMs` until `stop()`: which ones expire while a
 * failover is under way, and which of those are reported.
 */
export function probing(url: string, everyMs: number): { probes: Probe[]; stop: () => Promise<void> } {
  const probes: Probe[] = []
  let on = true
  const loop = (async () => {
    while (on) {
      const at = Date.now()
      const reply = await new Client(url).get('/').catch(() => undefined)
      if (reply?.status === 200 && reply.body !== '') probes.push({ id: reply.body, at })
      await new Promise((r) => setTimeout(r, everyMs))
    }
  })()
  return {
    probes,
    stop: async () => {
      on = false
      await loop
    },
  }
}
