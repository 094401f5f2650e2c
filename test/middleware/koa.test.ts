/**
 * The Koa adapter through the shared behaviour suite, plus Koa specifics: streaming
 * bodies, errors thrown downstream reaching an upstream handler unchanged, the three
 * bound contexts, other cookies, ctx.redirect and store failures on `app.on('error')`.
 */
import { Readable } from 'node:stream'
import Koa from 'koa'
import t, { type Test } from 'tap'
import { SessionManager } from '../../lib/index.js'
import { sessionMiddleware } from '../../middleware/koa.js'
import { MemoryStore } from '../../stores/memory.js'
import { Client, listen } from '../helpers/http.js'
import { SpyStore } from '../helpers/spy-store.js'
import { behaviour } from './behaviour.js'
import { requestEnd } from './request-end.js'
import { koaApp } from './helpers/apps.js'

behaviour('koa sessionMiddleware', koaApp)
requestEnd('koa sessionMiddleware', koaApp)

/** An app: `before` runs upstream of the session middleware, `after` downstream. */
async function start(
  t: Test,
  after: (manager: SessionManager) => Koa.Middleware,
  { delay = 0, before }: { delay?: number; before?: Koa.Middleware } = {},
) {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay })
  const manager = new SessionManager({ store, logger: { warn() {}, error() {} } })
  const app = new Koa()
  const errors: unknown[] = []
  app.on('error', (err) => errors.push(err))
  if (before !== undefined) app.use(before)
  app.use(sessionMiddleware(manager))
  app.use(after(manager))
  const server = await listen(app.callback())
  t.teardown(server.close)
  return { store, manager, errors, client: new Client(server.url) }
}

t.test('koa sessionMiddleware: refuses anything but a SessionManager', async (t) => {
  t.throws(() => sessionMiddleware({} as SessionManager), { code: 'ERR_CONFIG' })
  t.equal(sessionMiddleware(new SessionManager()).name, 'session')
})

t.test('koa sessionMiddleware: ctx, ctx.request and ctx.req are one session', async (t) => {
  const { client } = await start(t, (manager) => (ctx) => {
    manager.put(ctx.req, 'a', 1)
    manager.put(ctx.request, 'b', 2)
    ctx.body = manager.keys(ctx)
  })
  const reply = await client.get('/')
  t.same(JSON.parse(reply.body), ['a', 'b'])
  t.equal(reply.setCookies.length, 1)
})

t.test('koa sessionMiddleware: a large streamed body arrives whole, after the commit', async (t) => {
  const chunks = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(4, '0')}${'.'.repeat(4096)}\n`)
  const { client } = await start(
    t,
    (manager) => (ctx) => {
      if (ctx.path === '/check') {
        ctx.body = String(manager.getBoolean(ctx, 'streamed'))
        return
      }
      manager.put(ctx, 'streamed', true)
      ctx.type = 'text/plain'
      ctx.body = Readable.from(chunks)
    },
    { delay: 20 },
  )
  const reply = await client.get('/stream')
  t.equal(reply.body, chunks.join(''))
  t.equal(reply.setCookies.length, 1)
  t.equal((await client.get('/check')).body, 'true')
})

t.test('koa sessionMiddleware: an error thrown downstream goes up unchanged, uncommitted', async (t) => {
  const thrown = Object.assign(new Error('not yours'), { status: 403, expose: true })
  let caught: unknown
  const { client, store } = await start(
    t,
    (manager) => (ctx) => {
      if (ctx.path === '/put') {
        manager.put(ctx, 'n', manager.getNumber(ctx, 'n') + 1)
        ctx.body = `n=${manager.getNumber(ctx, 'n')}`
        return
      }
      manager.put(ctx, 'n', 1000)
      throw thrown
    },
    {
      before: async (ctx, next) => {
        try {
          await next()
        } catch (err) {
          caught = err
          ctx.status = (err as { status: number }).status
          ctx.body = 'handled upstream'
        }
      },
    },
  )
  await client.get('/put')
  store.reset()
  const reply = await client.get('/fail')
  t.equal(caught, thrown, 'the very same error object')
  t.equal(reply.status, 403)
  t.equal(reply.body, 'handled upstream')
  t.same(reply.setCookies, [])
  t.same(store.calls, { findVersioned: 1 }, 'read, never written')
  t.equal((await client.get('/put')).body, 'n=2', 'the stored session is unchanged')
})

t.test("koa sessionMiddleware: ctx.throw downstream keeps Koa's own error response", async (t) => {
  const { client, errors } = await start(t, (manager) => (ctx) => {
    manager.put(ctx, 'n', 1)
    ctx.throw(404, 'no such page')
  })
  const reply = await client.get('/')
  t.equal(reply.status, 404)
  t.equal(reply.body, 'no such page', 'Koa exposes 4xx messages as before')
  t.same(reply.setCookies, [])
  t.match(errors, [{ status: 404 }])
})

t.test('koa sessionMiddleware: ctx.redirect carries the cookie', async (t) => {
  const { client } = await start(t, (manager) => async (ctx) => {
    if (ctx.path === '/login') {
      await manager.renewToken(ctx)
      manager.put(ctx, 'user', 'ada')
      ctx.redirect('/home')
      return
    }
    ctx.body = `hello ${manager.getString(ctx, 'user')}`
  })
  const reply = await client.request('/login', { method: 'POST' })
  t.equal(reply.status, 302)
  t.equal(reply.headers.get('location'), '/home')
  t.equal(reply.setCookies.length, 1)
  t.equal((await client.get('/home')).body, 'hello ada')
})

t.test('koa sessionMiddleware: other cookies, Vary and Cache-Control of downstream are kept', async (t) => {
  const { client } = await start(t, (manager) => (ctx) => {
    manager.put(ctx, 'n', 1)
    ctx.cookies.set('theme', 'dark')
    ctx.vary('Accept-Encoding')
    ctx.set('cache-control', 'private')
    ctx.body = 'ok'
  })
  const reply = await client.get('/')
  t.equal(reply.setCookies.length, 2)
  t.match(reply.setCookies[0], /^theme=dark/)
  t.match(reply.setCookies[1], /^session=/)
  t.equal(reply.headers.get('vary'), 'Accept-Encoding, Cookie')
  t.equal(reply.headers.get('cache-control'), 'private, no-cache="Set-Cookie"')
})

t.test("koa sessionMiddleware: store failures reach an upstream handler and app 'error'", async (t) => {
  const seen: unknown[] = []
  const { client, store, errors } = await start(
    t,
    (manager) => (ctx) => {
      manager.put(ctx, 'n', 1)
      ctx.body = 'held body'
    },
    {
      before: async (ctx, next) => {
        try {
          await next()
        } catch (err) {
          seen.push(err)
          ctx.status = 503
          ctx.body = 'retry later'
          ctx.app.emit('error', err, ctx)
        }
      },
    },
  )
  store.mode = 'down'
  const load = await client.get('/', { headers: { cookie: `session=${'A'.repeat(43)}` } })
  t.equal(load.status, 503)
  const commit = await client.get('/')
  t.equal(commit.status, 503)
  t.equal(commit.body, 'retry later', 'the body of the failed request never left')
  t.same(commit.setCookies, [])
  t.match(seen, [{ code: 'ERR_STORE', operation: 'find' }, { code: 'ERR_STORE', operation: 'commit' }])
  t.equal(errors.length, 2)
})
