/**
 * A minimal Koa app with sessions: a visit counter.
 *
 *   node --import tsx examples/koa.ts                     # http://127.0.0.1:3000
 *   PORT=3003 SESSION_STORE=redis://127.0.0.1:6379 node --import tsx examples/koa.ts
 *
 * Run it next to examples/express.ts, fastify.ts or node.ts on the same SESSION_STORE
 * (another PORT): cookies are per host, so the browser shares one counter between them.
 */
import Koa from 'koa'
import { SessionManager } from '../lib/index.js'
import { sessionMiddleware } from '../middleware/koa.js'
import { createStore } from '../stores/url.js'

const { store } = await createStore(process.env.SESSION_STORE ?? 'memory:')
const manager = new SessionManager({ store, lifetime: '24h', idleTimeout: '30m' })

const app = new Koa()
app.use(sessionMiddleware(manager))

app.use(async (ctx) => {
  if (ctx.method === 'POST' && ctx.path === '/logout') {
    await manager.destroy(ctx)
    ctx.status = 303
    ctx.redirect('/')
    return
  }
  const visits = manager.getNumber(ctx, 'visits') + 1
  manager.put(ctx, 'visits', visits)
  ctx.body = `koa: visit ${visits}\n`
})

const port = Number(process.env.PORT ?? 3000)
app.listen(port, '127.0.0.1', () => console.log(`koa example on http://127.0.0.1:${port}`))
