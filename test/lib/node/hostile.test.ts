/**
 * The Node response hold under hostile use, on node:http (`loadAndSave`) and Express:
 * a held call that throws never escapes as an unhandled rejection, `headersSent` tells
 * the truth while a response is held, headers given to `writeHead` merge with the
 * session's instead of replacing them, and an async errorHandler that rejects is
 * answered, not fatal.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import express from 'express'
import t, { type Test } from 'tap'
import { SessionManager, type SessionManagerOptions } from '../../../lib/index.js'
import { sessionMiddleware } from '../../../middleware/express.js'
import { MemoryStore } from '../../../stores/memory.js'
import { Client, listen } from '../../helpers/http.js'
import { SpyStore } from '../../helpers/spy-store.js'

type Handler = (req: IncomingMessage, res: ServerResponse, manager: SessionManager) => void | Promise<void>

const rejections: unknown[] = []
const onRejection = (reason: unknown) => rejections.push(reason)
process.on('unhandledRejection', onRejection)
t.teardown(() => process.off('unhandledRejection', onRejection))

/** A tap test that also fails when an unhandled rejection happened while it ran. */
function test(name: string, fn: (t: Test) => Promise<void>): void {
  t.test(name, async (t) => {
    const before = rejections.length
    await fn(t)
    await new Promise((r) => setTimeout(r, 20))
    t.same(rejections.slice(before), [], 'no unhandled rejection')
  })
}

const frameworks = {
  node: async (handler: Handler, options: SessionManagerOptions = {}) => {
    const logged: unknown[] = []
    const manager = new SessionManager({
      store: new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 5 }),
      logger: { warn: (_m, e) => logged.push(e), error: (_m, e) => logged.push(e) },
      ...options,
    })
    const app = await listen(manager.loadAndSave((req, res) => handler(req, res, manager)))
    return { app, manager, logged }
  },
  express: async (handler: Handler, options: SessionManagerOptions = {}) => {
    const logged: unknown[] = []
    const manager = new SessionManager({
      store: new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 5 }),
      logger: { warn: (_m, e) => logged.push(e), error: (_m, e) => logged.push(e) },
      ...options,
    })
    const ex = express()
    ex.set('env', 'test')
    ex.use(sessionMiddleware(manager))
    ex.use((req, res, next) => {
      Promise.resolve(handler(req, res, manager)).catch(next)
    })
    ex.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
      logged.push(err)
      if (res.headersSent) return next(err)
      res.status(500).send('error page')
    })
    return { app: await listen(ex), manager, logged }
  },
}

const BAD = { 'content-disposition': 'attachment; filename="résum€.pdf"' }

for (const [name, serve] of Object.entries(frameworks)) {
  test(`${name}: writeHead with an invalid header throws into the handler, modified or not`, async (t) => {
    const { app, manager } = await serve((req, res, m) => {
      if (req.url === '/modify') m.put(req, 'n', 1)
      try {
        res.writeHead(200, BAD)
      } catch (err) {
        res.statusCode = 400
        res.end(`bad header: ${(err as { code?: string }).code}`)
        return
      }
      res.end('sent')
    })
    t.teardown(app.close)
    const client = new Client(app.url)
    for (const path of ['/', '/modify']) {
      const reply = await client.get(path)
      t.equal(reply.status, 400, `${path}: the handler's own catch answered`)
      t.equal(reply.body, 'bad header: ERR_INVALID_CHAR')
    }
    t.equal(manager.inFlight, 0)
    t.equal((await client.get('/')).status, 400, 'the server is still up')
  })

  test(`${name}: a held write that throws on replay is a clean 500, never a crash`, async (t) => {
    const { app, logged } = await serve((req, res, m) => {
      m.put(req, 'n', 1)
      res.setHeader('content-type', 'text/plain')
      // Valid at call time, refused by Node when the held call is replayed.
      res.setHeader('x-late', 'ok')
      res.end(42 as unknown as string)
    })
    t.teardown(app.close)
    const reply = await new Client(app.url).get('/')
    t.equal(reply.status, 500)
    t.equal(reply.body, name === 'node' ? 'Internal Server Error' : 'error page')
    t.equal(reply.headers.get('x-late'), null, 'nothing of the failed response leaks into the answer')
    t.ok(logged.some((e) => (e as { code?: string }).code === 'ERR_INVALID_ARG_TYPE'), 'the cause is logged')
  })

  test(`${name}: headers given to writeHead merge with the session's`, async (t) => {
    const { app } = await serve((req, res, m) => {
      m.put(req, 'n', 1)
      if (req.url === '/cookie') res.writeHead(200, { 'set-cookie': 'theme=dark; Path=/' })
      else if (req.url === '/raw') res.writeHead(201, 'Made', ['Set-Cookie', 'a=1; Path=/', 'X-Kind', 'raw'])
      else if (req.url === '/array') res.writeHead(200, { 'set-cookie': ['b=2; Path=/', 'c=3; Path=/'] })
      else res.writeHead(200, { vary: 'Accept-Encoding', 'cache-control': 'public, max-age=600' })
      res.end('ok')
    })
    t.teardown(app.close)
    const names = (lines: string[]) => lines.map((l) => l.split('=')[0]).sort()
    const cookie = await new Client(app.url).get('/cookie')
    t.same(names(cookie.setCookies), ['session', 'theme'], "the app's cookie and the session's")
    const raw = await new Client(app.url).get('/raw')
    t.equal(raw.status, 201)
    t.equal(raw.headers.get('x-kind'), 'raw')
    t.same(names(raw.setCookies), ['a', 'session'], 'raw header arrays merge too')
    t.same(names((await new Client(app.url).get('/array')).setCookies), ['b', 'c', 'session'])
    const cached = await new Client(app.url).get('/')
    t.equal(cached.setCookies.length, 1, 'a new session sends its cookie')
    t.same(cached.headers.get('vary')?.split(', ').sort(), ['Accept-Encoding', 'Cookie'])
    t.equal(cached.headers.get('cache-control'), 'public, max-age=600, no-cache="Set-Cookie"')
  })

  test(`${name}: headersSent and writableEnded tell the truth while the response is held`, async (t) => {
    const seen: boolean[] = []
    const { app } = await serve((req, res, m) => {
      m.put(req, 'n', 1)
      seen.push(res.headersSent)
      res.writeHead(200, { 'content-type': 'text/plain' })
      seen.push(res.headersSent, res.writableEnded)
      res.end('done')
      seen.push(res.writableEnded)
    })
    t.teardown(app.close)
    t.equal((await new Client(app.url).get('/')).body, 'done')
    t.same(seen, [false, true, false, true])
  })
}

test("express: a route that sends, then throws, with Express's headersSent error-handler pattern", async (t) => {
  const { app, manager } = await frameworks.express((req, res, m) => {
    m.put(req, 'n', 7)
    ;(res as express.Response).send('hello from the route')
    throw new Error('after the response')
  })
  t.teardown(app.close)
  const client = new Client(app.url)
  const reply = await client.get('/')
  t.equal(reply.status, 200, 'the route answered, not the error page')
  t.equal(reply.body, 'hello from the route')
  t.equal(reply.setCookies.length, 1, 'with its cookie')
  t.ok(await new Promise((r) => setTimeout(() => r(manager.inFlight === 0), 50)), 'nothing held')
  const again = await client.get('/')
  t.equal(again.body, 'hello from the route', 'the server is still up')
})

test('node: an async errorHandler that rejects is logged and answered with a 500', async (t) => {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }))
  const logged: unknown[] = []
  const manager = new SessionManager({
    store,
    logger: { warn: (_m, e) => logged.push(e), error: (_m, e) => logged.push(e) },
    errorHandler: async () => {
      await new Promise((r) => setTimeout(r, 5))
      throw new Error('the error handler broke')
    },
  })
  const app = await listen(
    manager.loadAndSave((req, res) => {
      manager.put(req, 'n', 1)
      res.end('ok')
    }),
  )
  t.teardown(app.close)
  store.mode = 'down'
  const reply = await new Client(app.url).get('/')
  t.equal(reply.status, 500)
  t.equal(reply.body, 'Internal Server Error')
  t.ok(logged.some((e) => (e as Error).message === 'the error handler broke'), 'the rejection is logged')
  t.equal(manager.inFlight, 0)
})

test('node: an async errorHandler answers in its own time', async (t) => {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }))
  const manager = new SessionManager({
    store,
    logger: { warn() {}, error() {} },
    errorHandler: async (_err: unknown, _req: unknown, res: unknown) => {
      await new Promise((r) => setTimeout(r, 5))
      const out = res as ServerResponse
      out.statusCode = 503
      out.end('try again')
    },
  })
  const app = await listen(manager.loadAndSave((req, res) => void (manager.put(req, 'n', 1), res.end('ok'))))
  t.teardown(app.close)
  store.mode = 'down'
  const reply = await new Client(app.url).get('/')
  t.equal(reply.status, 503)
  t.equal(reply.body, 'try again')
})
