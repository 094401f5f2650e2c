/**
 * The CSRF guards of Fastify (csrfHook) and Koa (csrfGuard) over real HTTP: a missing
 * token and another session's token are refused with 403; the session's own passes.
 */
import Fastify from 'fastify'
import Koa from 'koa'
import t, { type Test } from 'tap'
import { SessionManager } from '../../lib/index.js'
import { csrfHook, sessionPlugin } from '../../middleware/fastify.js'
import { csrfGuard, sessionMiddleware } from '../../middleware/koa.js'
import { Client, listen } from '../helpers/http.js'

const quiet = { warn() {}, error() {} }

async function check(t: Test, base: string) {
  const client = new Client(base)
  const token = (await client.get('/form')).body
  t.match(token, /^[A-Za-z0-9_-]{43}$/)
  t.equal((await client.request('/act', { method: 'POST' })).status, 403, 'missing token')
  const other = new Client(base)
  const foreign = (await other.get('/form')).body
  t.equal((await client.request('/act', { method: 'POST', headers: { 'x-csrf-token': foreign } })).status, 403, 'foreign token')
  const ok = await client.request('/act', { method: 'POST', headers: { 'x-csrf-token': token } })
  t.equal(ok.status, 200)
  t.equal(ok.body, 'done')
}

t.test('fastify csrfHook', async (t) => {
  const manager = new SessionManager({ logger: quiet })
  const app = Fastify()
  await app.register(sessionPlugin, { manager })
  app.addHook('preHandler', csrfHook(manager))
  app.get('/form', async (req) => manager.csrfToken(req))
  app.post('/act', async () => 'done')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  await check(t, `http://127.0.0.1:${(app.server.address() as { port: number }).port}`)
})

t.test('koa csrfGuard', async (t) => {
  const manager = new SessionManager({ logger: quiet })
  const app = new Koa()
  app.silent = true
  app.use(sessionMiddleware(manager))
  app.use(csrfGuard(manager))
  app.use((ctx) => {
    ctx.body = ctx.path === '/form' ? manager.csrfToken(ctx) : 'done'
  })
  const server = await listen(app.callback())
  t.teardown(server.close)
  await check(t, server.url)
})
