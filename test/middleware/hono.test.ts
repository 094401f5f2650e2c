/**
 * The Hono adapter (on Node via @hono/node-server) through the shared behaviour suite,
 * plus Hono specifics: the three bound contexts, c.redirect and an immutable
 * Response.redirect, the app's own cookies via hono/cookie, store failures on app.onError.
 */
import { Hono } from 'hono'
import { setCookie } from 'hono/cookie'
import t from 'tap'
import { ConfigError, SessionManager } from '../../lib/index.js'
import { sessionMiddleware } from '../../middleware/hono.js'
import { MemoryStore } from '../../stores/memory.js'
import { SpyStore } from '../helpers/spy-store.js'
import { behaviour } from './behaviour.js'
import { honoApp } from './helpers/apps.js'
import { requestEnd } from './request-end.js'

behaviour('hono sessionMiddleware', honoApp)
requestEnd('hono sessionMiddleware', honoApp)

function setup() {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }))
  const manager = new SessionManager({ store, logger: { warn() {}, error() {} } })
  const errors: unknown[] = []
  const app = new Hono()
  app.onError((err, c) => {
    errors.push(err)
    return c.text('sorry', 503)
  })
  app.use(sessionMiddleware(manager))
  return { store, manager, errors, app }
}

const pairOf = (res: Response) => (res.headers.getSetCookie().find((c) => c.startsWith('session=')) ?? '').split(';')[0] ?? ''

t.test('hono sessionMiddleware: refuses anything but a SessionManager', async (t) => {
  t.throws(() => sessionMiddleware({} as SessionManager), ConfigError)
})

t.test('hono sessionMiddleware: c, c.req and c.req.raw all reach the same session', async (t) => {
  const { app, manager } = setup()
  app.get('/put', (c) => {
    manager.put(c, 'a', 1)
    manager.put(c.req, 'b', 2)
    manager.put(c.req.raw, 'c', 3)
    return c.text('ok')
  })
  app.get('/', (c) => c.json(manager.keys(c.req.raw).sort()))
  const first = await app.request('/put')
  const second = await app.request('/', { headers: { cookie: pairOf(first) } })
  t.same(await second.json(), ['a', 'b', 'c'])
})

t.test('hono sessionMiddleware: c.redirect and an immutable Response.redirect both carry the cookie', async (t) => {
  const { app, manager } = setup()
  app.post('/login', (c) => {
    manager.put(c, 'user', 'ada')
    return c.redirect('/home', 303)
  })
  app.post('/login2', (c) => {
    manager.put(c, 'user', 'bob')
    return Response.redirect('http://localhost/home', 302)
  })
  app.get('/home', (c) => c.text(String(manager.get(c, 'user'))))
  for (const [path, user, status] of [['/login', 'ada', 303], ['/login2', 'bob', 302]] as const) {
    const res = await app.request(path, { method: 'POST' })
    t.equal(res.status, status)
    t.ok(res.headers.get('location')?.endsWith('/home'))
    t.equal(res.headers.getSetCookie().length, 1, `${path}: one cookie`)
    t.equal(res.headers.get('vary'), 'Cookie')
    t.equal(await (await app.request('/home', { headers: { cookie: pairOf(res) } })).text(), user)
  }
})

t.test("hono sessionMiddleware: the app's own cookies are kept", async (t) => {
  const { app, manager } = setup()
  app.get('/', (c) => {
    setCookie(c, 'theme', 'dark')
    manager.put(c, 'n', 1)
    return c.text('ok')
  })
  const res = await app.request('/')
  const cookies = res.headers.getSetCookie()
  t.equal(cookies.length, 2)
  t.ok(cookies.some((c) => c.startsWith('theme=dark')))
  t.ok(cookies.some((c) => c.startsWith('session=')))
})

t.test('hono sessionMiddleware: a store failure reaches app.onError; a thrown handler is not committed', async (t) => {
  const { app, manager, store, errors } = setup()
  app.get('/put', (c) => {
    manager.put(c, 'n', 1)
    return c.text('ok')
  })
  app.get('/throw', (c) => {
    manager.put(c, 'n', 99)
    throw new Error('boom')
  })
  app.get('/', (c) => c.text(`n=${manager.getNumber(c, 'n')}`))
  const first = await app.request('/put')
  const cookie = pairOf(first)
  store.reset()
  const thrown = await app.request('/throw', { headers: { cookie } })
  t.equal(thrown.status, 503)
  t.same(thrown.headers.getSetCookie(), [])
  t.same(store.calls, { findVersioned: 1 }, 'loaded, never written')
  t.match(errors.at(-1), { message: 'boom' })
  store.mode = 'down'
  const down = await app.request('/', { headers: { cookie } })
  t.equal(down.status, 503)
  t.match(errors.at(-1), { code: 'ERR_STORE', operation: 'find' })
  const commit = await app.request('/put')
  t.equal(commit.status, 503)
  t.same(commit.headers.getSetCookie(), [])
  t.match(errors.at(-1), { code: 'ERR_STORE', operation: 'commit' })
  store.mode = 'up'
  t.equal(await (await app.request('/', { headers: { cookie } })).text(), 'n=1')
  t.equal(manager.inFlight, 0)
})

t.test('hono sessionMiddleware: a fetch() response whose body was already read: answered, never a rejection', async (t) => {
  const { app, manager, errors } = setup()
  app.get('/', async (c) => {
    manager.put(c, 'n', 1)
    const upstream = await fetch('data:text/plain,hello')
    await upstream.text()
    return upstream
  })
  const res = await app.request('/')
  // Hono hands back its own (mutable) Response here: the cookie is merged into it.
  t.equal(res.status, 200)
  t.equal(res.headers.getSetCookie().length, 1)
  t.same(errors, [])
  t.equal(manager.inFlight, 0)
})
