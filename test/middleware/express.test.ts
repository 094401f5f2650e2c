/**
 * The Express adapter through the shared behaviour suite, plus Express specifics:
 * Router, res.json/redirect/sendFile, piped streams, next(err) with and without
 * sessionErrors, other cookies, and the default error handler.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import express from 'express'
import t, { type Test } from 'tap'
import { SessionManager } from '../../lib/index.js'
import { sessionErrors, sessionMiddleware } from '../../middleware/express.js'
import { MemoryStore } from '../../stores/memory.js'
import { Client, listen } from '../helpers/http.js'
import { SpyStore } from '../helpers/spy-store.js'
import { behaviour } from './behaviour.js'
import { requestEnd } from './request-end.js'
import { expressApp } from './helpers/apps.js'

behaviour('express sessionMiddleware', expressApp)
requestEnd('express sessionMiddleware', expressApp)

const quiet = { warn() {}, error() {} }

/** An app with the session middleware first; `routes` adds the rest. */
async function start(t: Test, routes: (app: express.Express, manager: SessionManager) => void, delay = 0) {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay })
  const manager = new SessionManager({ store, logger: quiet })
  const app = express()
  app.set('env', 'test')
  app.use(sessionMiddleware(manager))
  routes(app, manager)
  const server = await listen(app)
  t.teardown(server.close)
  return { store, manager, client: new Client(server.url) }
}

t.test('express sessionMiddleware: refuses anything but a SessionManager', async (t) => {
  t.throws(() => sessionMiddleware({} as SessionManager), { code: 'ERR_CONFIG' })
  t.throws(() => sessionErrors(undefined as unknown as SessionManager), { code: 'ERR_CONFIG' })
  t.equal(sessionMiddleware(new SessionManager()).name, 'session')
  t.equal(sessionErrors(new SessionManager()).name, 'sessionAbort')
})

t.test('express sessionMiddleware: routes of an express.Router share the session', async (t) => {
  const { client } = await start(t, (app, manager) => {
    const api = express.Router()
    api.post('/login/:user', async (req, res) => {
      await manager.renewToken(req)
      manager.put(req, 'user', req.params.user)
      res.json({ ok: true })
    })
    api.get('/me', (req, res) => {
      res.json({ user: manager.getString(req, 'user') })
    })
    app.use('/api', api)
  })
  const login = await client.request('/api/login/ada', { method: 'POST' })
  t.equal(login.status, 200)
  t.same(JSON.parse(login.body), { ok: true })
  t.equal(login.setCookies.length, 1)
  t.equal(login.headers.get('content-type'), 'application/json; charset=utf-8')
  t.same(JSON.parse((await client.get('/api/me')).body), { user: 'ada' })
})

t.test('express sessionMiddleware: mounted inside a Router', async (t) => {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }))
  const manager = new SessionManager({ store })
  const app = express()
  const account = express.Router()
  account.use(sessionMiddleware(manager))
  account.get('/visit', (req, res) => {
    manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
    res.send(`n=${manager.getNumber(req, 'n')}`)
  })
  app.use('/account', account)
  app.get('/public', (_req, res) => res.send('public'))
  const server = await listen(app)
  t.teardown(server.close)
  const client = new Client(server.url)
  t.equal((await client.get('/account/visit')).body, 'n=1')
  t.equal((await client.get('/account/visit')).body, 'n=2')
  store.reset()
  t.equal((await client.get('/public')).body, 'public')
  t.equal(store.total, 0, 'routes outside the router never touch the store')
})

t.test('express sessionMiddleware: res.redirect carries the cookie (login then redirect)', async (t) => {
  const { client } = await start(t, (app, manager) => {
    app.post('/login', async (req, res) => {
      await manager.renewToken(req)
      manager.put(req, 'user', 'ada')
      res.redirect(303, '/home')
    })
    app.get('/home', (req, res) => res.send(`hello ${manager.getString(req, 'user')}`))
  })
  const reply = await client.request('/login', { method: 'POST' })
  t.equal(reply.status, 303)
  t.equal(reply.headers.get('location'), '/home')
  t.equal(reply.setCookies.length, 1)
  t.equal((await client.get('/home')).body, 'hello ada')
})

t.test('express sessionMiddleware: res.sendFile is held until the commit, then sent whole', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'session-express-'))
  const file = join(dir, 'page.txt')
  const content = 'x'.repeat(200_000)
  writeFileSync(file, content)
  const { client } = await start(
    t,
    (app, manager) => {
      app.get('/file', (req, res) => {
        manager.put(req, 'downloaded', true)
        res.sendFile(file)
      })
      app.get('/check', (req, res) => res.send(String(manager.getBoolean(req, 'downloaded'))))
    },
    30,
  )
  const reply = await client.get('/file')
  t.equal(reply.status, 200)
  t.equal(reply.body.length, content.length, 'the whole file')
  t.equal(reply.setCookies.length, 1, 'with the session cookie')
  t.equal((await client.get('/check')).body, 'true')
})

t.test('express sessionMiddleware: a large piped stream arrives whole, in order', async (t) => {
  const chunks = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(4, '0')}${'.'.repeat(4096)}\n`)
  const { client } = await start(
    t,
    (app, manager) => {
      app.get('/stream', (req, res) => {
        manager.put(req, 'streamed', true)
        res.type('text')
        Readable.from(chunks).pipe(res)
      })
    },
    20,
  )
  const reply = await client.get('/stream')
  t.equal(reply.body, chunks.join(''))
  t.equal(reply.setCookies.length, 1)
})

t.test('express sessionMiddleware: other cookies of the route are kept next to the session cookie', async (t) => {
  const { client } = await start(t, (app, manager) => {
    app.get('/', (req, res) => {
      manager.put(req, 'n', 1)
      res.cookie('theme', 'dark').vary('Accept-Encoding').send('ok')
    })
  })
  const reply = await client.get('/')
  t.equal(reply.setCookies.length, 2)
  t.match(reply.setCookies[0], /^theme=dark/)
  t.match(reply.setCookies[1], /^session=/)
  t.equal(reply.headers.get('vary'), 'Accept-Encoding, Cookie', 'Vary merged')
})

t.test('express sessionErrors: next(err) from a route leaves the session uncommitted', async (t) => {
  const { client, store } = await start(t, (app, manager) => {
    app.get('/put', (req, res) => {
      manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
      res.send(`n=${manager.getNumber(req, 'n')}`)
    })
    app.get('/fail', (req, _res, next) => {
      manager.put(req, 'n', 1000)
      next(Object.assign(new Error('forbidden'), { status: 403 }))
    })
    app.use(sessionErrors(manager))
    app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.status ?? 500).send('nope')
    })
  })
  await client.get('/put')
  store.reset()
  const reply = await client.get('/fail')
  t.equal(reply.status, 403, 'the error handler answered with its status')
  t.equal(reply.body, 'nope')
  t.same(reply.setCookies, [])
  t.same(store.calls, { findVersioned: 1 }, 'read, never written')
  t.equal((await client.get('/put')).body, 'n=2', 'the stored session is unchanged')
})

t.test('express sessionMiddleware: without sessionErrors an error response commits (documented)', async (t) => {
  const { client } = await start(t, (app, manager) => {
    app.get('/fail', (req, _res, next) => {
      manager.put(req, 'n', 7)
      next(new Error('boom'))
    })
    app.get('/', (req, res) => res.send(`n=${manager.getNumber(req, 'n')}`))
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send('err')
    })
  })
  const reply = await client.get('/fail')
  t.equal(reply.status, 500)
  t.equal(reply.setCookies.length, 1, 'Express gives the middleware no sight of the error')
  t.equal((await client.get('/')).body, 'n=7')
})

t.test('express sessionMiddleware: a failed commit of res.json reaches the default error handler', async (t) => {
  const { client, store } = await start(t, (app, manager) => {
    app.set('env', 'production')
    app.get('/json', (req, res) => {
      manager.put(req, 'n', 1)
      res.json({ secret: 'held body' })
    })
  })
  const logged: unknown[] = []
  const error = console.error
  console.error = (...args: unknown[]) => logged.push(args)
  t.teardown(() => {
    console.error = error
  })
  store.mode = 'down'
  const reply = await client.get('/json')
  await new Promise((resolve) => setImmediate(resolve))
  console.error = error
  t.equal(reply.status, 500)
  t.notMatch(reply.body, /held body|simulated|\bat /, 'neither the held body nor a stack')
  t.match(reply.headers.get('content-type'), /text\/html/, "finalhandler's own page")
  t.equal(Number(reply.headers.get('content-length')), Buffer.byteLength(reply.body), 'no stale Content-Length')
  t.same(reply.setCookies, [])
  t.equal(logged.length, 1, 'Express logged the error once')
})

t.test('express sessionMiddleware: a load failure goes to next(err) and never runs the route', async (t) => {
  let ran = false
  const errors: unknown[] = []
  const { client, store } = await start(t, (app) => {
    app.get('/', (_req, res) => {
      ran = true
      res.send('route')
    })
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      errors.push(err)
      res.status(503).send('try later')
    })
  })
  store.mode = 'down'
  const reply = await client.get('/', { headers: { cookie: `session=${'A'.repeat(43)}` } })
  t.equal(reply.status, 503)
  t.equal(reply.body, 'try later')
  t.notOk(ran)
  t.match(errors, [{ code: 'ERR_STORE', operation: 'find' }])
})
