/** Contender: this library's Express adapter (`sessionMiddleware`), on `BENCH_STORE`. */
import express from 'express'
import { announce, BODY_OK, concurrencyKey, countKeys, heap, HOT_KEY, port } from './common.js'
import { distModule } from './ours-dist.js'
import { ourManager } from './ours-store.js'

const { sessionMiddleware } = await distModule<typeof import('../../middleware/express.js')>('middleware/express.js')

const { manager, stats, queries } = await ourManager()
const app = express()
app.disable('etag')
app.disable('x-powered-by')
app.get('/__heap', (_req, res) => { res.end(heap()) })
app.get('/__stats', (_req, res) => { res.end(stats()) })
app.get('/__queries', (_req, res) => { res.end(queries()) })
app.use(sessionMiddleware(manager))
app.get('/s1', (_req, res) => { res.end(BODY_OK) })
app.get('/s2', (req, res) => { res.end(String(manager.getNumber(req, 'n'))) })
app.get('/s3', (req, res) => {
  const n = manager.getNumber(req, 'n') + 1
  manager.put(req, 'n', n)
  res.end(String(n))
})
app.get('/s4', (req, res) => {
  manager.put(req, 'n', 1)
  res.end(BODY_OK)
})
app.get('/c/put', (req, res) => {
  const key = concurrencyKey(req.url)
  if (key !== undefined) manager.put(req, key, 1)
  res.end(BODY_OK)
})
app.get('/c/count', (req, res) => { res.end(String(countKeys(manager.keys(req)))) })
app.get('/c/inc', (req, res) => { res.end(String(manager.increment(req, HOT_KEY))) })
app.get('/c/hot', (req, res) => { res.end(String(manager.getNumber(req, HOT_KEY))) })

const server = app.listen(Number(port()), '127.0.0.1', () => announce(server))
