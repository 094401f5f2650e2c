/**
 * A minimal Fastify app with sessions: a visit counter.
 *
 *   node --import tsx examples/fastify.ts                 # http://127.0.0.1:3000
 *   PORT=3002 SESSION_STORE=redis://127.0.0.1:6379 node --import tsx examples/fastify.ts
 *
 * Run it next to examples/express.ts, koa.ts or node.ts on the same SESSION_STORE
 * (another PORT): cookies are per host, so the browser shares one counter between them.
 */
import Fastify from 'fastify'
import { SessionManager } from '../lib/index.js'
import { sessionPlugin } from '../middleware/fastify.js'
import { createStore } from '../stores/url.js'

const { store } = await createStore(process.env.SESSION_STORE ?? 'memory:')
const manager = new SessionManager({ store, lifetime: '24h', idleTimeout: '30m' })

const app = Fastify()
await app.register(sessionPlugin, { manager })

app.get('/', async (request, reply) => {
  const visits = manager.getNumber(request, 'visits') + 1
  manager.put(request, 'visits', visits)
  reply.type('text/plain')
  return `fastify: visit ${visits}\n`
})

app.post('/logout', async (request, reply) => {
  await manager.destroy(request)
  return reply.redirect('/', 303)
})

const port = Number(process.env.PORT ?? 3000)
await app.listen({ port, host: '127.0.0.1' })
console.log(`fastify example on http://127.0.0.1:${port}`)
