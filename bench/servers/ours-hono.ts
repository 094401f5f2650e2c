/**
 * Contender: this library through its Hono middleware (`session-manager/hono`), on Node
 * (@hono/node-server) or Bun, on the store `BENCH_STORE` names (memory, redis, cookie).
 */
import { Hono } from 'hono'
import { BODY_OK, concurrencyKey, countKeys, HOT_KEY } from './common.js'
import { distModule } from './ours-dist.js'
import { serveHono } from './hono-serve.js'
import { ourManager } from './ours-store.js'

const { sessionMiddleware } = await distModule<typeof import('../../middleware/hono.js')>('middleware/hono.js')
const { manager, stats } = await ourManager()

const app = new Hono()
app.use(sessionMiddleware(manager))
app.get('/s1', (c) => c.text(BODY_OK))
app.get('/s2', (c) => c.text(String(manager.getNumber(c, 'n'))))
app.get('/s3', (c) => {
  const n = manager.getNumber(c, 'n') + 1
  manager.put(c, 'n', n)
  return c.text(String(n))
})
app.get('/s4', (c) => {
  manager.put(c, 'n', 1)
  return c.text(BODY_OK)
})
app.get('/c/put', (c) => {
  const key = concurrencyKey(c.req.url)
  if (key !== undefined) manager.put(c, key, 1)
  return c.text(BODY_OK)
})
app.get('/c/count', (c) => c.text(String(countKeys(manager.keys(c)))))
app.get('/c/inc', (c) => c.text(String(manager.increment(c, HOT_KEY))))
app.get('/c/hot', (c) => c.text(String(manager.getNumber(c, HOT_KEY))))
await serveHono(app, stats)
