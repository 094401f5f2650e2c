/**
 * A minimal Express app with sessions: a visit counter.
 *
 *   node --import tsx examples/express.ts                 # http://127.0.0.1:3000
 *   PORT=3001 SESSION_STORE=redis://127.0.0.1:6379 node --import tsx examples/express.ts
 *   PORT=3001 SESSION_STORE=postgres://postgres@127.0.0.1:5432/test node --import tsx examples/express.ts
 *
 * Run it next to examples/fastify.ts, koa.ts or node.ts on the same SESSION_STORE
 * (another PORT): cookies are per host, so the browser shares one counter between them.
 */
import express from 'express'
import { SessionManager } from '../lib/index.js'
import { sessionErrors, sessionMiddleware } from '../middleware/express.js'
import { createStore } from '../stores/url.js'

const { store } = await createStore(process.env.SESSION_STORE ?? 'memory:')
const manager = new SessionManager({ store, lifetime: '24h', idleTimeout: '30m' })

const app = express()
app.use(sessionMiddleware(manager))

app.get('/', (req, res) => {
  const visits = manager.getNumber(req, 'visits') + 1
  manager.put(req, 'visits', visits)
  res.type('text').send(`express: visit ${visits}\n`)
})

app.post('/logout', async (req, res) => {
  await manager.destroy(req)
  res.redirect(303, '/')
})

// After the routes: a route that fails never commits its session changes.
app.use(sessionErrors(manager))

const port = Number(process.env.PORT ?? 3000)
app.listen(port, '127.0.0.1', () => console.log(`express example on http://127.0.0.1:${port}`))
