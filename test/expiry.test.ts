/**
 * Absolute lifetime, sliding idle timeout, touch threshold and cookie expiry, with an
 * injected clock (both the manager's and the memory store's), over real HTTP.
 */
import t, { type Test } from 'tap'
import { SessionManager, type SessionManagerOptions } from '../lib/index.js'
import { MemoryStore } from '../stores/memory.js'
import { Client, listen } from './helpers/http.js'
import { SpyStore } from './helpers/spy-store.js'

const MIN = 60_000

async function app(t: Test, options: SessionManagerOptions = {}) {
  let clock = Date.now()
  const now = () => clock
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0, now }))
  const manager = new SessionManager({ store, now, ...options })
  const server = await listen(
    manager.loadAndSave((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname === '/put') manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
      if (url.pathname === '/forget') manager.rememberMe(req, false)
      if (url.pathname === '/remember') manager.rememberMe(req, true)
      if (url.pathname === '/deadline') manager.setDeadline(req, new Date(clock + 5 * MIN))
      if (url.pathname === '/bad-deadline') {
        const at = url.searchParams.get('at') ?? ''
        try {
          manager.setDeadline(req, new Date(/^-?\d+(\.\d+)?(e\d+)?$/.test(at) ? Number(at) : at))
        } catch (err) {
          const e = err as { name?: string; code?: string; message?: string }
          res.end(`refused ${e.name} ${e.code} ${e.message}`)
          return
        }
      }
      res.end(`n=${manager.getNumber(req, 'n')};deadline=${manager.deadline(req).getTime() - clock}`)
    }),
  )
  t.teardown(server.close)
  return { store, client: new Client(server.url), advance: (ms: number) => (clock += ms), now }
}

const maxAge = (line: string | undefined) => Number(/Max-Age=(\d+)/.exec(line ?? '')?.[1])

t.test('lifetime: the session ends at its absolute deadline, however active', async (t) => {
  const { client, advance } = await app(t, { lifetime: '1h' })
  const first = await client.get('/put')
  t.equal(maxAge(first.setCookies[0]), 3600, 'persistent cookie matches the lifetime')
  advance(30 * MIN)
  t.equal((await client.get('/put')).body.split(';')[0], 'n=2')
  advance(29 * MIN)
  const late = await client.get('/put')
  t.equal(late.body.split(';')[0], 'n=3', 'still alive a minute before the deadline')
  // Same token, same expiry: the cookie the browser holds (Max-Age 3600 from the start)
  // already expires at the deadline, so it is not sent again.
  t.same(late.setCookies, [], 'no Set-Cookie: the cookie held still points at the deadline')
  advance(2 * MIN)
  t.equal((await client.get('/')).body.split(';')[0], 'n=0', 'gone after the deadline')
})

t.test('idleTimeout: expiry slides with activity, never past the lifetime', async (t) => {
  const { client, advance, store } = await app(t, { lifetime: '1h', idleTimeout: '10m' })
  const first = await client.get('/put')
  t.equal(maxAge(first.setCookies[0]), 600, 'cookie expires with the idle timeout')
  advance(9 * MIN)
  store.reset()
  const read = await client.get('/')
  t.equal(read.body.split(';')[0], 'n=1', 'alive within the idle window')
  t.same(store.calls, { findVersioned: 1, touch: 1 }, 'a read past the threshold costs one cheap touch')
  t.equal(maxAge(read.setCookies[0]), 600, 'and moves the cookie expiry')
  advance(30_000)
  store.reset()
  const again = await client.get('/')
  t.same(store.calls, { findVersioned: 1 }, 'a read soon after a touch is one read, nothing else')
  t.same(again.setCookies, [])
  advance(11 * MIN)
  t.equal((await client.get('/')).body.split(';')[0], 'n=0', 'idle too long: gone')
})

t.test('idleTimeout never extends past the absolute deadline', async (t) => {
  const { client, advance } = await app(t, { lifetime: '20m', idleTimeout: '10m' })
  await client.get('/put')
  for (let i = 0; i < 3; i++) {
    advance(6 * MIN)
    const r = await client.get('/')
    t.equal(r.body.split(';')[0], 'n=1', `alive at ${(i + 1) * 6} min`)
  }
  advance(3 * MIN)
  t.equal((await client.get('/')).body.split(';')[0], 'n=0', 'dead at 21 min although active')
})

t.test('rememberMe(false) gives a browser-session cookie; true a persistent one', async (t) => {
  const { client } = await app(t, { lifetime: '1h' })
  await client.get('/put')
  const forget = await client.get('/forget')
  t.notMatch(forget.setCookies[0], /Expires|Max-Age/, 'no Expires, no Max-Age')
  const next = await client.get('/put')
  t.notMatch(next.setCookies[0], /Expires|Max-Age/, 'the choice sticks to the session')
  const remember = await client.get('/remember')
  t.equal(maxAge(remember.setCookies[0]), 3600)
})

t.test('cookie.persist false: browser-session cookies by default', async (t) => {
  const { client } = await app(t, { cookie: { persist: false } })
  const first = await client.get('/put')
  t.notMatch(first.setCookies[0], /Expires|Max-Age/)
  const remember = await client.get('/remember')
  t.match(remember.setCookies[0], /Max-Age=86400/, 'rememberMe(true) overrides')
})

t.test('setDeadline moves the absolute deadline', async (t) => {
  const { client, advance } = await app(t, { lifetime: '1h' })
  await client.get('/put')
  const moved = await client.get('/deadline')
  t.equal(moved.body, 'n=1;deadline=300000')
  t.equal(maxAge(moved.setCookies[0]), 300)
  advance(6 * MIN)
  t.equal((await client.get('/')).body.split(';')[0], 'n=0')
})

t.test('setDeadline refuses an invalid or out-of-range Date at once and keeps the session', async (t) => {
  const { client, store } = await app(t, { lifetime: '1h' })
  await client.get('/put')
  for (const at of ['garbage', String(8.64e15), String(Date.now() + 2 ** 31 * 1000), '-1']) {
    const reply = await client.get(`/bad-deadline?at=${encodeURIComponent(at)}`)
    t.equal(reply.status, 200, `deadline ${at}: never a 500`)
    t.match(reply.body, /^refused ConfigError ERR_CONFIG setDeadline: argument deadline: expected a valid Date/, `deadline ${at} refused`)
    t.same(reply.setCookies, [], 'and nothing written')
  }
  const after = await client.get('/put')
  t.equal(after.body, 'n=2;deadline=3600000', 'the stored session is intact, its deadline unchanged')
  t.notMatch(after.setCookies[0] ?? '', /Invalid Date|NaN/)
  t.ok(store.total > 0)
})
