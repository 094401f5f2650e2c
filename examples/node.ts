/**
 * A minimal Node http app with sessions: a visit counter.
 *
 *   node --import tsx examples/node.ts                    # http://127.0.0.1:3000
 *   PORT=3004 SESSION_STORE=redis://127.0.0.1:6379 node --import tsx examples/node.ts
 *
 * Run it next to examples/express.ts, fastify.ts or koa.ts on the same SESSION_STORE
 * (another PORT): cookies are per host, so the browser shares one counter between them.
 */
import { createServer } from 'node:http'
import { SessionManager, sessionHandler } from '../middleware/node.js'
import { createStore } from '../stores/url.js'

const { store } = await createStore(process.env.SESSION_STORE ?? 'memory:')
const manager = new SessionManager({ store, lifetime: '24h', idleTimeout: '30m' })

const server = createServer(
  sessionHandler(manager, async (req, res) => {
    if (req.method === 'POST' && req.url === '/logout') {
      await manager.destroy(req)
      res.writeHead(303, { location: '/' }).end()
      return
    }
    const visits = manager.getNumber(req, 'visits') + 1
    manager.put(req, 'visits', visits)
    res.setHeader('content-type', 'text/plain; charset=utf-8')
    res.end(`node: visit ${visits}\n`)
  }),
)

const port = Number(process.env.PORT ?? 3000)
server.listen(port, '127.0.0.1', () => console.log(`node example on http://127.0.0.1:${port}`))
