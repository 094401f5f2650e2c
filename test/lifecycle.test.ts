/**
 * What the node:http path adds to the adapters' behaviour suite (test/middleware/
 * behaviour.ts, which runs for node too: anonymous/read-only round trips, hostile
 * cookies, corrupt data, a hung store): the new-session cookie and cache headers, the
 * hashed store key, node's default 500, onStoreError 'anonymous', a custom
 * errorHandler and maxSize.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { SessionManager, type SessionManagerOptions } from '../lib/index.js'
import { MemoryStore } from '../stores/memory.js'
import { Client, listen } from './helpers/http.js'
import { SpyStore } from './helpers/spy-store.js'

const quiet = { warn() {}, error() {} }

async function app(t: Test, options: SessionManagerOptions = {}) {
  const memory = new MemoryStore({ sweepInterval: 0 })
  const store = new SpyStore(memory)
  const logged: unknown[] = []
  const manager = new SessionManager({
    store,
    logger: { warn: (_m, e) => logged.push(e), error: (_m, e) => logged.push(e) },
    ...options,
  })
  const server = await listen(
    manager.loadAndSave(async (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname === '/put') manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
      if (url.pathname === '/throw') throw new Error('handler exploded with a secret')
      res.end(`n=${manager.getNumber(req, 'n')}`)
    }),
  )
  t.teardown(server.close)
  return { manager, store, memory, server, client: new Client(server.url), logged }
}

t.test('modifying request: one read and one versioned write', async (t) => {
  const { store, client } = await app(t)
  const first = await client.get('/put')
  t.same(store.calls, { commitIfVersion: 1 }, 'a new session is one create, no read')
  t.equal(first.setCookies.length, 1)
  t.match(first.setCookies[0], /^session=[A-Za-z0-9_-]{43}; Path=\/; Expires=.*; Max-Age=86400; HttpOnly; SameSite=Lax$/)
  t.equal(first.headers.get('vary'), 'Cookie')
  t.equal(first.headers.get('cache-control'), 'no-cache="Set-Cookie"')
  store.reset()
  const second = await client.get('/put')
  t.equal(second.body, 'n=2')
  t.same(store.calls, { findVersioned: 1, commitIfVersion: 1 })
})

t.test('the store key is the hash of the token, never the token', async (t) => {
  const { memory, client } = await app(t)
  await client.get('/put')
  const token = client.jar.get('session') ?? ''
  const keys: string[] = []
  for await (const [key] of memory.all('')) keys.push(key)
  t.equal(keys.length, 1)
  t.notOk(keys[0]?.includes(token), 'raw token absent from the store')
  t.match(keys[0], /^session:[A-Za-z0-9_-]{43}$/)
})

t.test('store down: 500 from the error handler, no stack trace, process stays up', async (t) => {
  const { store, client, logged } = await app(t)
  await client.get('/put')
  store.mode = 'down'
  const read = await client.get('/')
  t.equal(read.status, 500)
  t.equal(read.body, 'Internal Server Error')
  t.notMatch(read.body, /simulated|at |Error:/, 'no internals leak')
  t.match(logged.at(-1), { code: 'ERR_STORE', store: 'Spy(MemoryStore)', operation: 'find' })
  store.mode = 'up'
  const writeFails = await (async () => {
    store.mode = 'down'
    const anon = new Client(client.base)
    return anon.get('/put')
  })()
  t.equal(writeFails.status, 500, 'a failing commit is a 500 too')
  t.same(writeFails.setCookies, [], 'with no cookie')
  store.mode = 'up'
  const back = await client.get('/')
  t.equal(back.body, 'n=1', 'back up: the old session is intact')
})

t.test("onStoreError 'anonymous': served without a session, never saved", async (t) => {
  const { manager, store, client } = await app(t, { onStoreError: 'anonymous' })
  await client.get('/put')
  const before = client.cookieHeader
  const errors: unknown[] = []
  manager.on('storeError', (e) => errors.push(e))
  store.mode = 'down'
  const read = await client.get('/')
  t.equal(read.status, 200)
  t.equal(read.body, 'n=0', 'no session')
  const write = await client.get('/put')
  t.equal(write.status, 200)
  t.same(write.setCookies, [], 'the degraded session is not saved, the cookie stays')
  t.equal(client.cookieHeader, before)
  t.equal(errors.length, 2, 'each failure is emitted')
  store.mode = 'up'
  t.equal((await client.get('/')).body, 'n=1', 'the real session is back')
})

t.test('a handler that throws: 500, session not committed', async (t) => {
  const { store, client, logged } = await app(t)
  const reply = await client.get('/throw')
  t.equal(reply.status, 500)
  t.equal(reply.body, 'Internal Server Error')
  t.equal(store.total, 0)
  t.match(logged.at(-1), { message: 'handler exploded with a secret' })
})

t.test('a custom errorHandler answers store failures', async (t) => {
  const { store, client } = await app(t, {
    logger: quiet,
    errorHandler: (err: unknown, _req: IncomingMessage, res: ServerResponse) => {
      res.statusCode = 503
      res.end(`retry later (${(err as { code?: string }).code})`)
    },
  })
  store.mode = 'down'
  const reply = await client.get('/', { headers: { cookie: `session=${'B'.repeat(43)}` } })
  t.equal(reply.status, 503)
  t.equal(reply.body, 'retry later (ERR_STORE)')
})

t.test('maxSize: an oversized session is refused and the stored one kept', async (t) => {
  const memory = new MemoryStore({ sweepInterval: 0 })
  const logged: unknown[] = []
  const manager = new SessionManager({ store: memory, maxSize: 200, logger: { warn() {}, error: (_m, e) => logged.push(e) } })
  const server = await listen(
    manager.loadAndSave((req, res) => {
      const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? 0)
      if (size > 0) manager.put(req, 'blob', 'x'.repeat(size))
      res.end(`len=${manager.getString(req, 'blob').length}`)
    }),
  )
  t.teardown(server.close)
  const client = new Client(server.url)
  t.equal((await client.get('/?size=10')).body, 'len=10')
  const big = await client.get('/?size=1000')
  t.equal(big.status, 500)
  t.match(logged.at(-1), { code: 'ERR_TOO_LARGE', limit: 200 })
  t.equal((await client.get('/')).body, 'len=10', 'the earlier session is intact')
})
