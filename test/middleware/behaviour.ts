/**
 * The behaviour every adapter must have, as one suite run against each framework over
 * real HTTP with a cookie-jar client: the lifecycle rules of DESIGN.md, expiry with an
 * injected clock, no lost updates, hostile cookies, and store outages going to the
 * framework's own error path.
 */
import t, { type Test } from 'tap'
import { SessionManager, type SessionManagerOptions } from '../../lib/index.js'
import { sessionId } from '../../lib/events.js'
import { MemoryStore } from '../../stores/memory.js'
import { Client } from '../helpers/http.js'
import { SpyStore } from '../helpers/spy-store.js'
import type { AppFactory } from './helpers/apps.js'

const MIN = 60_000
const COOKIE = /^session=[A-Za-z0-9_-]{43}; Path=\/; Expires=.*; Max-Age=86400; HttpOnly; SameSite=Lax$/
const maxAge = (line: string | undefined) => Number(/Max-Age=(\d+)/.exec(line ?? '')?.[1])
/** A stack frame, plain or HTML-escaped, or the simulated outage's own message. */
const LEAK = /simulated|\bat \S+ \(|&nbsp;at /
const code = (e: unknown) => (e as { code?: unknown } | undefined)?.code

export interface Setup {
  options?: SessionManagerOptions
  /** Latency of every store call, ms. */
  delay?: number
}

/** One app of `factory` on a spied memory store with an injected clock; closed at teardown. */
export async function start(t: Test, factory: AppFactory, { options = {}, delay = 0 }: Setup = {}) {
  let clock = Date.now()
  const now = () => clock
  const memory = new MemoryStore({ sweepInterval: 0, now })
  const store = new SpyStore(memory, { delay })
  const logged: unknown[] = []
  const errors: unknown[] = []
  const manager = new SessionManager({
    store,
    now,
    logger: { warn: (_m, e) => logged.push(e), error: (_m, e) => logged.push(e) },
    ...options,
  })
  const app = await factory({ manager, errors })
  t.teardown(app.close)
  return {
    manager,
    store,
    memory,
    client: new Client(app.url),
    /** Every error the framework's error path (or, for node, the manager's handler) saw. */
    failures: () => [...errors, ...logged],
    advance: (ms: number) => (clock += ms),
  }
}

/**
 * Run the shared suite against the app `factory` builds; `name` prefixes each test.
 *
 * @example
 * ```ts
 * behaviour('express sessionMiddleware', expressApp)
 * ```
 */
export function behaviour(name: string, factory: AppFactory): void {
  const test = (title: string, fn: (t: Test) => Promise<void>) => t.test(`${name}: ${title}`, fn)

  test('a new session: one create, Set-Cookie on that response, read back next request', async (t) => {
    const { store, client } = await start(t, factory)
    const first = await client.get('/put')
    t.equal(first.status, 200)
    t.equal(first.body, 'n=1')
    t.same(store.calls, { commitIfVersion: 1 }, 'a new session costs one write, no read')
    t.equal(first.setCookies.length, 1)
    t.match(first.setCookies[0], COOKIE)
    t.equal(first.headers.get('vary'), 'Cookie')
    t.equal(first.headers.get('cache-control'), 'no-cache="Set-Cookie"')
    t.equal((await client.get('/')).body, 'n=1', 'the next request reads its own write')
  })

  test('an anonymous request: no store call, no Set-Cookie', async (t) => {
    const { store, client } = await start(t, factory)
    const reply = await client.get('/')
    t.equal(reply.status, 200)
    t.equal(reply.body, 'n=0')
    t.equal(store.total, 0, 'no store call at all')
    t.same(reply.setCookies, [])
    t.equal(reply.headers.get('vary'), null, 'no Vary either')
  })

  test('a read-only request: exactly one store read, no write, no Set-Cookie', async (t) => {
    const { store, client } = await start(t, factory)
    await client.get('/put')
    store.reset()
    const reply = await client.get('/')
    t.equal(reply.body, 'n=1')
    t.same(store.calls, { findVersioned: 1 }, 'one read')
    t.same(reply.setCookies, [])
  })

  test('a write to an existing session: one read, one write, same token', async (t) => {
    const { store, client } = await start(t, factory)
    await client.get('/put')
    const token = client.jar.get('session')
    store.reset()
    const second = await client.get('/put')
    t.equal(second.body, 'n=2')
    t.same(store.calls, { findVersioned: 1, commitIfVersion: 1 })
    t.equal(client.jar.get('session'), token, 'the token is kept')
    t.equal((await client.get('/put?k=name&v=ada')).body, 'n=2')
    t.equal((await client.get('/get?k=name')).body, 'ada')
  })

  test('pop: a flash message is read once', async (t) => {
    const { client } = await start(t, factory)
    await client.get('/flash?msg=saved')
    t.equal((await client.get('/pop')).body, 'flash=saved')
    t.equal((await client.get('/pop')).body, 'flash=', 'gone after the first read')
    t.equal((await client.get('/keys')).body, '[]')
  })

  test('renewToken: a new token with the same data, the old token no longer works', async (t) => {
    const { client } = await start(t, factory)
    await client.get('/put')
    const old = client.jar.get('session') ?? ''
    const renewed = await client.get('/renew')
    t.equal(renewed.body, 'n=1', 'data kept')
    t.equal(renewed.setCookies.length, 1, 'a new cookie')
    const fresh = client.jar.get('session') ?? ''
    t.not(fresh, old)
    t.match(fresh, /^[A-Za-z0-9_-]{43}$/)
    t.equal((await client.get('/')).body, 'n=1', 'the new token reads the data')
    const stale = await client.get('/', { headers: { cookie: `session=${old}` } })
    t.equal(stale.body, 'n=0', 'the old token is no session')
  })

  test('destroy: deleted from the store, cookie expired', async (t) => {
    const { client } = await start(t, factory)
    await client.get('/put')
    const old = client.jar.get('session') ?? ''
    const reply = await client.get('/destroy')
    t.equal(reply.body, 'n=0')
    t.equal(reply.setCookies.length, 1)
    t.match(reply.setCookies[0], /^session=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0/)
    t.equal(client.jar.size, 0, 'the client dropped the cookie')
    const stale = await client.get('/', { headers: { cookie: `session=${old}` } })
    t.equal(stale.body, 'n=0', 'the old token is no session')
    t.same(stale.setCookies, [])
  })

  test('rememberMe: browser-session cookie with false, persistent with true', async (t) => {
    const { client } = await start(t, factory, { options: { lifetime: '1h' } })
    await client.get('/put')
    const forget = await client.get('/forget')
    t.notMatch(forget.setCookies[0], /Expires|Max-Age/, 'no Expires, no Max-Age')
    t.notMatch((await client.get('/put')).setCookies[0], /Expires|Max-Age/, 'the choice sticks')
    t.equal(maxAge((await client.get('/remember')).setCookies[0]), 3600)
  })

  test('idleTimeout: expiry slides with activity, then the idle session ends', async (t) => {
    const { client, store, advance } = await start(t, factory, { options: { lifetime: '1h', idleTimeout: '10m' } })
    t.equal(maxAge((await client.get('/put')).setCookies[0]), 600)
    advance(9 * MIN)
    store.reset()
    const read = await client.get('/')
    t.equal(read.body, 'n=1', 'alive within the idle window')
    t.same(store.calls, { findVersioned: 1, touch: 1 }, 'one read and one cheap touch')
    t.equal(maxAge(read.setCookies[0]), 600, 'the cookie expiry moved')
    advance(9 * MIN)
    t.equal((await client.get('/')).body, 'n=1', 'the touch kept it alive')
    advance(11 * MIN)
    t.equal((await client.get('/')).body, 'n=0', 'idle too long: gone')
  })

  test('lifetime: the session ends at its absolute deadline, however active', async (t) => {
    const { client, advance } = await start(t, factory, { options: { lifetime: '1h' } })
    const first = await client.get('/put')
    t.equal(maxAge(first.setCookies[0]), 3600, 'the cookie expires at the deadline')
    advance(59 * MIN)
    const late = await client.get('/put')
    t.equal(late.body, 'n=2', 'alive a minute before the deadline')
    t.same(late.setCookies, [], 'same token, same expiry: the cookie held is not sent again')
    advance(2 * MIN)
    t.equal((await client.get('/')).body, 'n=0', 'gone after it')
  })

  test('50 concurrent writes to one session keep all 50 keys', async (t) => {
    const { client, store } = await start(t, factory, { delay: 5 })
    await client.get('/put?k=start')
    let inFlight = 0
    let most = 0
    const methods = store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
    const inner = methods.findVersioned as (...a: unknown[]) => Promise<unknown>
    methods.findVersioned = async (...args: unknown[]) => {
      most = Math.max(most, ++inFlight)
      try {
        return await inner(...args)
      } finally {
        inFlight--
      }
    }
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => client.get(`/put?k=k${i}`)))
    t.ok(replies.every((r) => r.status === 200), 'all answered 200')
    t.ok(most > 1, `the requests overlapped (${most} reads in flight at once)`)
    const keys = JSON.parse((await client.get('/keys')).body) as string[]
    t.equal(keys.filter((k) => /^k\d+$/.test(k)).length, 50, '50 of 50 keys kept')
    t.ok(keys.includes('start'), 'and the earlier one')
  })

  test('a session cookie inside another cookie\'s value is not a session cookie', async (t) => {
    const { store, client } = await start(t, factory)
    await client.get('/put')
    const token = /^session=([^;]+)/.exec(client.cookieHeader)?.[1] ?? ''
    t.equal(token.length, 43, 'a real token to smuggle')
    const fresh = new Client(client.base)
    const before = store.total
    for (const cookie of [`pref=dark session=${token}`, `pref="x session=${token}"`, `a=b,session=${token}`]) {
      const reply = await fresh.get('/', { headers: { cookie } })
      t.equal(reply.status, 200)
      t.equal(reply.body, 'n=0', `${cookie.slice(0, 20)}… does not carry the session`)
    }
    t.equal(store.total, before, 'and costs no store call')
    const own = await fresh.get('/', { headers: { cookie: `pref=dark; session=${token}` } })
    t.equal(own.body, 'n=1', 'the same token as a cookie of its own is the session')
  })

  test('malformed, oversized and duplicate cookies: no session, no store call', async (t) => {
    const { store, client } = await start(t, factory)
    const headers = [
      'session=short',
      `session=${'x'.repeat(44)}`,
      `session=${'a'.repeat(42)}!`,
      `session=${'a'.repeat(42)}%`,
      'session=',
      'session',
      '=;;; ;=session; session==',
      `session="${'a'.repeat(40)}"`,
      `session=${'a'.repeat(5000)}`,
      `other=1; ${'x'.repeat(12_000)}; session=${'b'.repeat(43)}%`,
      'session=\u00e9\u00e9; session=%00%00',
    ]
    for (const cookie of headers) {
      const reply = await client.get('/', { headers: { cookie } })
      t.equal(reply.status, 200, `cookie ${JSON.stringify(cookie.slice(0, 40))} is served`)
      t.equal(reply.body, 'n=0', 'as no session')
      t.same(reply.setCookies, [])
    }
    const huge = await client.get('/', { headers: { cookie: `a=${'y'.repeat(20_000)}; session=${'c'.repeat(43)}` } })
    t.ok([200, 431].includes(huge.status), `a cookie header over the limit is refused or ignored (${huge.status})`)
    t.notMatch(huge.body, /n=[1-9]/)
    t.equal(store.total, 0, 'the store was never asked')
    const unknown = await client.get('/', { headers: { cookie: `session=${'A'.repeat(43)}` } })
    t.equal(unknown.body, 'n=0', 'a well-formed unknown token is no session')
    t.same(store.calls, { findVersioned: 1 }, 'and costs exactly one read')
  })

  test('corrupt stored data: served without a session, reported, a write starts afresh', async (t) => {
    const { manager, memory, client, failures } = await start(t, factory)
    await client.get('/put')
    const keys: string[] = []
    for await (const [key] of memory.all('')) keys.push(key)
    const key = keys[0] ?? ''
    await memory.commit(key, new TextEncoder().encode('{"not":"a session"'), new Date(Date.now() + MIN))
    const events: unknown[] = []
    manager.on('corrupt', (e) => events.push(e))
    const reply = await client.get('/')
    t.equal(reply.status, 200, 'never a 500')
    t.equal(reply.body, 'n=0')
    t.match(events, [{ id: sessionId(key), error: { code: 'ERR_CODEC' } }], 'one corrupt event, by opaque id')
    t.notMatch(JSON.stringify(events), key.slice(-20), 'never the store key')
    t.ok(failures().some((e) => code(e) === 'ERR_CODEC'), 'and logged')
    const write = await client.get('/put')
    t.equal(write.body, 'n=1')
    t.equal(write.setCookies.length, 1, 'with a new cookie')
  })

  test('store down: 500 through the error path, no leak, no crash, recovery', async (t) => {
    const { store, client, failures } = await start(t, factory)
    await client.get('/put')
    store.mode = 'down'
    const read = await client.get('/')
    t.equal(read.status, 500, 'a failing load is a 500')
    t.notMatch(read.body, LEAK, 'no internals')
    t.notMatch(read.body, /n=/, 'no body')
    t.match(failures().at(-1), { code: 'ERR_STORE', store: 'Spy(MemoryStore)', operation: 'find' })
    const anon = new Client(client.base)
    const write = await anon.get('/put')
    t.equal(write.status, 500, 'a failing commit is a 500')
    t.same(write.setCookies, [], 'with no cookie')
    t.notMatch(write.body, LEAK, 'no internals')
    t.notMatch(write.body, /n=/, 'the held body was dropped')
    t.match(failures().at(-1), { code: 'ERR_STORE', operation: 'commit' })
    store.mode = 'up'
    t.equal((await client.get('/')).body, 'n=1', 'back up: the session is intact')
    t.equal((await anon.get('/put')).status, 200, 'and writes work again')
  })

  test('store hangs: storeTimeout bounds the request', async (t) => {
    const { store, client, failures } = await start(t, factory, { options: { storeTimeout: 200 } })
    await client.get('/put')
    store.mode = 'hang'
    const started = Date.now()
    const reply = await client.get('/')
    const took = Date.now() - started
    t.equal(reply.status, 500)
    t.ok(took >= 190 && took < 2000, `answered in ${took} ms`)
    t.ok(failures().some((e) => code(e) === 'ERR_STORE_TIMEOUT'), 'a timeout reached the error path')
  })

  test('a handler that throws: 500, its changes are not committed', async (t) => {
    const { store, client } = await start(t, factory)
    const anonymous = await client.get('/throw')
    t.equal(anonymous.status, 500)
    t.equal(store.total, 0, 'a new session is never written')
    t.same(anonymous.setCookies, [])
    await client.get('/put')
    store.reset()
    const reply = await client.get('/throw')
    t.equal(reply.status, 500)
    t.same(reply.setCookies, [])
    t.same(store.calls, { findVersioned: 1 }, 'loaded, never written')
    t.equal((await client.get('/')).body, 'n=1', 'the stored session is unchanged')
  })

  test('a streamed body: committed first, cookie on the response, body whole', async (t) => {
    const { client } = await start(t, factory, { delay: 20 })
    const reply = await client.get('/put?stream=1')
    t.equal(reply.status, 200)
    t.equal(reply.body, 'n=1')
    t.equal(reply.setCookies.length, 1)
    t.equal((await client.get('/?stream=1')).body, 'n=1', 'read back')
  })
}
