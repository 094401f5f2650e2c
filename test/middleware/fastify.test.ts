/**
 * The Fastify plugin through the shared behaviour suite, plus Fastify specifics:
 * encapsulated child plugins, reply.redirect, stream replies, other cookies,
 * `request.raw` as the context, error replies, and custom error handlers.
 */
import { Readable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { SessionManager } from '../../lib/index.js'
import { sessionPlugin } from '../../middleware/fastify.js'
import { MemoryStore } from '../../stores/memory.js'
import { Client } from '../helpers/http.js'
import { SpyStore } from '../helpers/spy-store.js'
import { behaviour } from './behaviour.js'
import { requestEnd } from './request-end.js'
import { fastifyApp } from './helpers/apps.js'

behaviour('fastify sessionPlugin', fastifyApp)
requestEnd('fastify sessionPlugin', fastifyApp)

/** An app with the plugin registered; `routes` adds the rest before it listens. */
async function start(t: Test, routes: (app: FastifyInstance, manager: SessionManager) => void | Promise<void>, delay = 0) {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay })
  const manager = new SessionManager({ store, logger: { warn() {}, error() {} } })
  const app = Fastify({ logger: false })
  await app.register(sessionPlugin, { manager })
  await routes(app, manager)
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => {
    app.server.closeAllConnections()
    await app.close()
  })
  return { store, manager, client: new Client(url) }
}

t.test('fastify sessionPlugin: refuses a missing manager at registration', async (t) => {
  const app = Fastify({ logger: false })
  app.register(sessionPlugin, {} as { manager: SessionManager })
  await t.rejects(async () => app.ready(), { code: 'ERR_CONFIG' })
})

t.test('fastify sessionPlugin: routes of encapsulated child plugins have sessions', async (t) => {
  const { client } = await start(t, async (app, manager) => {
    await app.register(
      async (child) => {
        child.post('/login/:user', async (request) => {
          await manager.renewToken(request)
          manager.put(request, 'user', (request.params as { user: string }).user)
          return { ok: true }
        })
        child.get('/me', async (request) => ({ user: manager.getString(request, 'user') }))
      },
      { prefix: '/api' },
    )
  })
  const login = await client.request('/api/login/ada', { method: 'POST' })
  t.equal(login.status, 200)
  t.equal(login.setCookies.length, 1)
  t.same(JSON.parse(login.body), { ok: true })
  t.same(JSON.parse((await client.get('/api/me')).body), { user: 'ada' })
})

t.test('fastify sessionPlugin: reply.redirect carries the cookie', async (t) => {
  const { client } = await start(t, (app, manager) => {
    app.post('/login', async (request, reply) => {
      await manager.renewToken(request)
      manager.put(request, 'user', 'ada')
      return reply.redirect('/home', 303)
    })
    app.get('/home', async (request) => `hello ${manager.getString(request, 'user')}`)
  })
  const reply = await client.request('/login', { method: 'POST' })
  t.equal(reply.status, 303)
  t.equal(reply.headers.get('location'), '/home')
  t.equal(reply.setCookies.length, 1)
  t.equal((await client.get('/home')).body, 'hello ada')
})

t.test('fastify sessionPlugin: a stream reply arrives whole, with the cookie', async (t) => {
  const chunks = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(4, '0')}${'.'.repeat(4096)}\n`)
  const { client } = await start(
    t,
    (app, manager) => {
      app.get('/stream', (request, reply) => {
        manager.put(request, 'streamed', true)
        reply.type('text/plain').send(Readable.from(chunks))
      })
      app.get('/check', async (request) => String(manager.getBoolean(request, 'streamed')))
    },
    20,
  )
  const reply = await client.get('/stream')
  t.equal(reply.body, chunks.join(''))
  t.equal(reply.setCookies.length, 1)
  t.equal((await client.get('/check')).body, 'true')
})

t.test('fastify sessionPlugin: other cookies and Vary of the route are kept', async (t) => {
  const { client } = await start(t, (app, manager) => {
    app.get('/', async (request, reply) => {
      manager.put(request, 'n', 1)
      reply.header('set-cookie', 'theme=dark; Path=/').header('vary', 'Accept-Encoding')
      return 'ok'
    })
  })
  const reply = await client.get('/')
  t.equal(reply.setCookies.length, 2)
  t.match(reply.setCookies[0], /^theme=dark/)
  t.match(reply.setCookies[1], /^session=/)
  t.equal(reply.headers.get('vary'), 'Accept-Encoding, Cookie', 'Vary merged')
})

t.test('fastify sessionPlugin: request and request.raw are the same session', async (t) => {
  const { client } = await start(t, (app, manager) => {
    app.get('/raw', async (request) => {
      manager.put(request.raw, 'via', 'raw')
      return manager.getString(request, 'via')
    })
  })
  const first = await client.get('/raw')
  t.equal(first.body, 'raw')
  t.equal(first.setCookies.length, 1, 'a put through request.raw commits the session')
  t.equal((await client.get('/raw')).body, 'raw', 'and the next request reads it')
})

t.test('fastify sessionPlugin: an error reply is never committed', async (t) => {
  const { client, store } = await start(t, (app, manager) => {
    app.get('/put', async (request) => {
      manager.put(request, 'n', manager.getNumber(request, 'n') + 1)
      return `n=${manager.getNumber(request, 'n')}`
    })
    app.get('/bad', async (request, reply) => {
      manager.put(request, 'n', 1000)
      return reply.code(400).send(new Error('bad input'))
    })
    app.get('/teapot', async (request) => {
      manager.put(request, 'n', 1000)
      throw Object.assign(new Error('no coffee'), { statusCode: 418 })
    })
  })
  await client.get('/put')
  store.reset()
  const bad = await client.get('/bad')
  t.equal(bad.status, 400)
  t.same(bad.setCookies, [])
  const teapot = await client.get('/teapot')
  t.equal(teapot.status, 418)
  t.same(teapot.setCookies, [])
  t.same(store.calls, { findVersioned: 2 }, 'read twice, never written')
  t.equal((await client.get('/put')).body, 'n=2')
})

t.test("fastify sessionPlugin: store failures go to the app's error handler", async (t) => {
  const seen: unknown[] = []
  const { client, store } = await start(t, (app, manager) => {
    app.setErrorHandler(async (err, _request, reply) => {
      seen.push(err)
      return reply.code(503).send('retry later')
    })
    app.get('/put', async (request) => {
      manager.put(request, 'n', 1)
      return 'held body'
    })
  })
  store.mode = 'down'
  const load = await client.get('/', { headers: { cookie: `session=${'A'.repeat(43)}` } })
  t.equal(load.status, 503)
  t.equal(load.body, 'retry later')
  const commit = await client.get('/put')
  t.equal(commit.status, 503)
  t.equal(commit.body, 'retry later', 'the held body never left')
  t.same(commit.setCookies, [])
  t.match(seen, [{ code: 'ERR_STORE', operation: 'find' }, { code: 'ERR_STORE', operation: 'commit' }])
  store.mode = 'up'
  t.equal((await client.get('/put')).status, 200, 'recovered')
})

t.test('fastify sessionPlugin: a hijacked reply bypasses onSend, so nothing is committed', async (t) => {
  const { client, store } = await start(t, (app, manager) => {
    app.get('/hijack', (request, reply) => {
      manager.put(request, 'n', 1)
      reply.hijack()
      reply.raw.end('raw')
    })
  })
  const reply = await client.get('/hijack')
  t.equal(reply.body, 'raw')
  t.same(reply.setCookies, [])
  t.equal(store.total, 0)
})
