/**
 * manager.csrfToken / verifyCsrf and the Express guard, over real HTTP: a token is made
 * on first use and kept, verified in constant time, rejected from another session,
 * missing on a POST, and rotated at login (renewToken).
 */
import express from 'express'
import t, { type Test } from 'tap'
import { SessionManager } from '../../lib/index.js'
import { csrfGuard, sessionMiddleware } from '../../middleware/express.js'
import { MemoryStore } from '../../stores/memory.js'
import { Client, listen } from '../helpers/http.js'

async function start(t: Test) {
  const manager = new SessionManager({ store: new MemoryStore({ sweepInterval: 0 }), logger: { warn() {}, error() {} } })
  const app = express()
  app.set('env', 'test')
  app.use(express.urlencoded({ extended: false }))
  app.use(sessionMiddleware(manager))
  app.use(csrfGuard(manager))
  app.get('/form', (req, res) => res.send(manager.csrfToken(req)))
  app.post('/login', async (req, res) => {
    await manager.login(req, 'u1')
    res.send(manager.csrfToken(req))
  })
  app.post('/act', (_req, res) => res.send('done'))
  app.use((err: { status?: number; code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).send(err.code ?? 'error')
  })
  const server = await listen(app)
  t.teardown(server.close)
  return { manager, client: new Client(server.url) }
}

t.test('SessionManager.csrfToken is made on first use and kept', async (t) => {
  const { client } = await start(t)
  const a = (await client.get('/form')).body
  t.match(a, /^[A-Za-z0-9_-]{43}$/)
  t.equal((await client.get('/form')).body, a, 'same token on the next request')
})

t.test('csrfGuard: header and form field accepted; missing, wrong and foreign tokens refused', async (t) => {
  const { client } = await start(t)
  const token = (await client.get('/form')).body
  t.equal((await client.request('/act', { method: 'POST' })).status, 403, 'missing token')
  t.equal((await client.request('/act', { method: 'POST' })).body, 'ERR_CSRF')
  t.equal((await client.request('/act', { method: 'POST', headers: { 'x-csrf-token': 'x'.repeat(43) } })).status, 403, 'wrong token')
  const other = new Client(client.base)
  const foreign = (await other.get('/form')).body
  t.equal((await client.request('/act', { method: 'POST', headers: { 'x-csrf-token': foreign } })).status, 403, 'token of another session')
  t.equal((await client.request('/act', { method: 'POST', headers: { 'x-csrf-token': token } })).body, 'done', 'header')
  const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${token}` }
  t.equal((await client.request('/act', form)).body, 'done', 'form field')
  const noSession = new Client(client.base)
  t.equal((await noSession.request('/act', { method: 'POST', headers: { 'x-csrf-token': token } })).status, 403, 'no session, stolen token')
})

t.test('SessionManager.csrfToken rotates at login; the old token is refused', async (t) => {
  const { client } = await start(t)
  const before = (await client.get('/form')).body
  const after = (await client.request('/login', { method: 'POST', headers: { 'x-csrf-token': before } })).body
  t.not(after, before)
  t.equal((await client.request('/act', { method: 'POST', headers: { 'x-csrf-token': before } })).status, 403, 'pre-login token dead')
  t.equal((await client.request('/act', { method: 'POST', headers: { 'x-csrf-token': after } })).body, 'done')
})

t.test('SessionManager.verifyCsrf refuses non-strings and empty', async (t) => {
  const manager = new SessionManager()
  const session = await manager.load(undefined)
  manager.csrfToken(session)
  t.equal(manager.verifyCsrf(session, undefined), false)
  t.equal(manager.verifyCsrf(session, ''), false)
  t.equal(manager.verifyCsrf(session, 42 as unknown as string), false)
  t.equal(manager.verifyCsrf(session, manager.csrfToken(session)), true)
})
