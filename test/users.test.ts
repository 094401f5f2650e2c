/**
 * The user features over real HTTP on the memory store: login, listing, revocation,
 * single-session, the user-info cache, header tokens and the renewal grace period.
 */
import t, { type Test } from 'tap'
import { SessionManager, type SessionManagerOptions } from '../lib/index.js'
import { MemoryStore } from '../stores/memory.js'
import { Client, listen } from './helpers/http.js'
import { SpyStore } from './helpers/spy-store.js'

async function app(t: Test, options: SessionManagerOptions = {}, store = new MemoryStore({ sweepInterval: 0 })) {
  const manager = new SessionManager({ store, logger: { warn() {}, error() {} }, ...options })
  const server = await listen(
    manager.loadAndSave(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const user = url.searchParams.get('user')
      switch (url.pathname) {
        case '/login':
          await manager.login(req, user ?? '', { userAgent: req.headers['user-agent'] ?? '' })
          break
        case '/put':
          manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
          break
        case '/logout-everywhere':
          res.setHeader('x-revoked', String(await manager.revokeUser(manager.userId(req) ?? '', { except: req })))
          break
        case '/destroy':
          await manager.destroy(req)
          break
        case '/me':
          res.setHeader('x-info', JSON.stringify((await manager.user(req)) ?? null))
          break
      }
      res.end(JSON.stringify({ user: manager.userId(req) ?? null, n: manager.getNumber(req, 'n'), id: manager.sessionId(req) }))
    }),
  )
  t.teardown(server.close)
  return { manager, server, store, client: (ua = 'test') => new Client(server.url, ua) }
}

t.test('SessionManager.login renews the token and binds the user', async (t) => {
  const { client } = await app(t)
  const browser = client()
  await browser.get('/put')
  const anonymous = browser.jar.get('session')
  const reply = await browser.get('/login?user=ann')
  t.not(browser.jar.get('session'), anonymous, 'a new token at login (fixation defence)')
  t.same(JSON.parse(reply.body).user, 'ann')
  t.equal(JSON.parse((await browser.get('/')).body).n, 1, 'data kept across login')
  const old = await new Client(browser.base).get('/', { headers: { cookie: `session=${anonymous}` } })
  t.equal(JSON.parse(old.body).user, null, 'the pre-login token is dead')
})

t.test('SessionManager.sessionsOf lists live sessions with metadata, never tokens', async (t) => {
  const { manager, client } = await app(t)
  const phone = client('phone')
  const laptop = client('laptop')
  await phone.get('/login?user=bob')
  await laptop.get('/login?user=bob')
  const list = await manager.sessionsOf('bob')
  t.equal(list.length, 2)
  t.same(list.map((s) => s.meta.userAgent).sort(), ['laptop', 'phone'])
  const tokens = [phone.jar.get('session'), laptop.jar.get('session')]
  for (const info of list) {
    t.notOk(tokens.includes(info.id), 'the id is not a token')
    t.ok(info.created instanceof Date && info.deadline > info.created && info.loggedIn instanceof Date)
    const reuse = await new Client(phone.base).get('/', { headers: { cookie: `session=${info.id}` } })
    t.equal(JSON.parse(reuse.body).user, null, 'and cannot be used as one')
  }
  const mine = JSON.parse((await phone.get('/')).body).id
  t.ok(list.some((s) => s.id === mine), 'sessionId(ctx) matches the listed id')
  t.same(await manager.sessionsOf('nobody'), [])
})

t.test('SessionManager.revokeUser logs out everywhere but here', async (t) => {
  const { client } = await app(t)
  const a = client()
  const b = client()
  const c = client()
  for (const x of [a, b, c]) await x.get('/login?user=cy')
  const reply = await a.get('/logout-everywhere')
  t.equal(reply.headers.get('x-revoked'), '2')
  t.equal(JSON.parse((await b.get('/')).body).user, null, 'b is anonymous')
  t.equal(JSON.parse((await c.get('/')).body).user, null, 'c is anonymous')
  t.equal(JSON.parse((await a.get('/')).body).user, 'cy', 'a stays logged in')
})

t.test('SessionManager.revokeSession ends one listed session', async (t) => {
  const { manager, client } = await app(t)
  const a = client('a')
  const b = client('b')
  await a.get('/login?user=di')
  await b.get('/login?user=di')
  const target = (await manager.sessionsOf('di')).find((s) => s.meta.userAgent === 'b')
  t.ok(await manager.revokeSession('di', target?.id ?? ''))
  t.notOk(await manager.revokeSession('di', target?.id ?? ''), 'twice: nothing left to end')
  t.equal(JSON.parse((await b.get('/')).body).user, null)
  t.equal(JSON.parse((await a.get('/')).body).user, 'di')
})

t.test('destroy removes the session from the user index', async (t) => {
  const { manager, client } = await app(t)
  const a = client()
  await a.get('/login?user=ed')
  t.equal((await manager.sessionsOf('ed')).length, 1)
  await a.get('/destroy')
  t.equal((await manager.sessionsOf('ed')).length, 0)
})

t.test('singleSession: a new login evicts the others', async (t) => {
  const { manager, client } = await app(t, { singleSession: true })
  const first = client('first')
  const second = client('second')
  await first.get('/login?user=fay')
  await second.get('/login?user=fay')
  t.equal(JSON.parse((await first.get('/')).body).user, null, 'the first login is gone')
  t.equal(JSON.parse((await second.get('/')).body).user, 'fay')
  t.same((await manager.sessionsOf('fay')).map((s) => s.meta.userAgent), ['second'])
})

t.test('singleSession holds when logins race (two managers, one store, real latency)', async (t) => {
  for (let trial = 0; trial < 5; trial++) {
    const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 2 })
    const one = await app(t, { singleSession: true }, store as unknown as MemoryStore)
    const two = await app(t, { singleSession: true }, store as unknown as MemoryStore)
    const x = one.client('x')
    const y = two.client('y')
    await Promise.all([x.get('/login?user=gus'), y.get('/login?user=gus')])
    const alive = [JSON.parse((await x.get('/')).body).user, JSON.parse((await y.get('/')).body).user].filter(Boolean)
    t.equal(alive.length, 1, `trial ${trial}: exactly one session survives`)
    t.equal((await one.manager.sessionsOf('gus')).length, 1)
  }
})

t.test('maxSessionsPerUser evictOldest over HTTP: the third login evicts the first', async (t) => {
  const { manager, client } = await app(t, { maxSessionsPerUser: 2 })
  const [a, b, c] = [client('a'), client('b'), client('c')]
  for (const browser of [a, b, c]) await browser.get('/login?user=ivy')
  t.equal(JSON.parse((await a.get('/')).body).user, null, 'the oldest login is gone')
  t.equal(JSON.parse((await b.get('/')).body).user, 'ivy')
  t.equal(JSON.parse((await c.get('/')).body).user, 'ivy')
  t.same((await manager.sessionsOf('ivy')).map((s) => s.meta.userAgent).sort(), ['b', 'c'])
})

t.test('maxSessionsPerUser refuse over HTTP: a login over the limit is answered by the app, the session untouched', async (t) => {
  const { SessionLimitError } = await import('../lib/index.js')
  const { manager, client } = await app(t, {
    maxSessionsPerUser: 1,
    onSessionLimit: 'refuse',
    errorHandler: (err: unknown, _req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(err instanceof SessionLimitError ? 409 : 500).end(err instanceof SessionLimitError ? err.code : '')
    },
  })
  const first = client('first')
  const second = client('second')
  t.equal((await first.get('/login?user=jo')).status, 200)
  await second.get('/put')
  const before = second.jar.get('session')
  const refused = await second.get('/login?user=jo')
  t.equal(refused.status, 409)
  t.equal(refused.body, 'ERR_SESSION_LIMIT')
  t.equal(second.jar.get('session'), before, 'no new cookie')
  const after = JSON.parse((await second.get('/')).body)
  t.equal(after.user, null, 'still anonymous')
  t.equal(after.n, 1, 'the session and its data kept')
  await first.get('/destroy')
  t.equal((await second.get('/login?user=jo')).status, 200, 'a logout frees the place')
  t.same((await manager.sessionsOf('jo')).map((s) => s.meta.userAgent), ['second'])
})

t.test('SessionManager.user caches loadUser info next to the sessions', async (t) => {
  let clock = Date.now()
  const loads: string[] = []
  let name = 'Hal'
  const store = new MemoryStore({ sweepInterval: 0, now: () => clock })
  const { manager, client } = await app(t, { now: () => clock, userCacheTtl: '1m', loadUser: (id) => (loads.push(id), { id, name }) }, store)
  const a = client()
  await a.get('/login?user=hal')
  t.same(JSON.parse((await a.get('/me')).headers.get('x-info') ?? ''), { id: 'hal', name: 'Hal' })
  await a.get('/me')
  await client().get('/login?user=hal').then(async () => undefined)
  t.same(loads, ['hal'], 'loaded once, then served from the cache')
  name = 'Hal 2'
  clock += 61_000
  t.equal(JSON.parse((await a.get('/me')).headers.get('x-info') ?? '').name, 'Hal 2', 'stale after the ttl: reloaded')
  t.equal(loads.length, 2)
  name = 'Hal 3'
  await manager.refreshUser(['hal'])
  t.equal(JSON.parse((await a.get('/me')).headers.get('x-info') ?? '').name, 'Hal 3', 'refreshUser re-caches now')
  await manager.forgetUser('hal')
  name = 'Hal 4'
  t.equal(JSON.parse((await a.get('/me')).headers.get('x-info') ?? '').name, 'Hal 4', 'forgetUser drops it')
  t.equal(loads.length, 4)
  t.equal(JSON.parse((await client().get('/me')).headers.get('x-info') ?? ''), null, 'anonymous: no user')
  let iterated = 0
  await manager.iterate(() => {
    iterated++
  })
  t.equal(iterated, 2, 'iterate sees the two sessions, not the cache entry')
})

t.test("transport 'header': Bearer in, session-token out", async (t) => {
  const { server } = await app(t, { transport: 'header' })
  const api = new Client(server.url)
  const first = await api.get('/login?user=ivy')
  const token = first.headers.get('session-token') ?? ''
  t.match(token, /^[A-Za-z0-9_-]{43}$/)
  t.same(first.setCookies, [], 'no cookie in header mode')
  const auth = { headers: { authorization: `Bearer ${token}` } }
  t.equal(JSON.parse((await api.get('/put', auth)).body).user, 'ivy')
  t.equal(JSON.parse((await api.get('/', auth)).body).n, 1)
  t.equal(JSON.parse((await api.get('/', { headers: { cookie: `session=${token}` } })).body).user, null, 'cookies are ignored')
  const out = await api.get('/destroy', auth)
  t.equal(out.headers.get('session-token'), '', 'an emptied header says the token is dead')
})

t.test("transport 'both' accepts either", async (t) => {
  const { server } = await app(t, { transport: 'both' })
  const c = new Client(server.url)
  const first = await c.get('/login?user=jo')
  t.equal(first.setCookies.length, 1)
  const token = first.headers.get('session-token')
  t.equal(JSON.parse((await new Client(server.url).get('/', { headers: { authorization: `Bearer ${token}` } })).body).user, 'jo')
  t.equal(JSON.parse((await c.get('/')).body).user, 'jo')
})

t.test('renewGrace: the old token stays readable, never writable, then dies', async (t) => {
  let clock = Date.now()
  const store = new MemoryStore({ sweepInterval: 0, now: () => clock })
  const { client } = await app(t, { renewGrace: '5s', now: () => clock }, store)
  const page = client()
  await page.get('/put')
  const old = page.jar.get('session')
  await page.get('/login?user=kim')
  const straggler = new Client(page.base)
  const cookie = { headers: { cookie: `session=${old}` } }
  const read = await straggler.get('/', cookie)
  t.same(JSON.parse(read.body), { user: null, n: 1, id: JSON.parse(read.body).id }, 'the old token still reads its data')
  const write = await straggler.get('/put', cookie)
  t.same(write.setCookies, [], 'a write through it sets no cookie')
  t.equal(JSON.parse((await straggler.get('/', cookie)).body).n, 1, 'and is not saved')
  t.equal(JSON.parse((await page.get('/')).body).n, 1, 'the new session is untouched')
  clock += 6000
  t.equal(JSON.parse((await straggler.get('/', cookie)).body).n, 0, 'after the grace period: gone')
})

t.test('without renewGrace the old token dies at once', async (t) => {
  const { client } = await app(t)
  const page = client()
  await page.get('/put')
  const old = page.jar.get('session')
  await page.get('/login?user=lu')
  t.equal(JSON.parse((await new Client(page.base).get('/', { headers: { cookie: `session=${old}` } })).body).n, 0)
})
