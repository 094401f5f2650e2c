/**
 * Peer: express-session on Express, with its MemoryStore (`BENCH_STORE=memory`),
 * connect-redis over a node-redis client (`BENCH_STORE=redis`) or connect-pg-simple
 * over a counted pg Pool (`BENCH_STORE=postgres`, prune timer off as ours is). Configured as a
 * performance-aware user would, and with this library's semantics (absolute 24 h
 * expiry, nothing stored for a session never written): `resave: false`,
 * `saveUninitialized: false`, `rolling: false`, and connect-redis `disableTouch`.
 */
import express from 'express'
import session, { type Store } from 'express-session'
import { announce, BODY_OK, concurrencyKey, countKeys, heap, HOT_KEY, port, prefix, redisUrl, SECRET, storeKind } from './common.js'

declare module 'express-session' {
  interface SessionData {
    n: number
    hot: number
    [key: `c_${string}`]: number
  }
}

let queries = (): string => '{}'

async function makeStore(): Promise<Store | undefined> {
  if (storeKind() === 'memory') return undefined
  if (storeKind() === 'postgres') {
    const { countedPool, pgTable } = await import('./pg.js')
    const { default: pgSession } = await import('connect-pg-simple')
    const counted = countedPool()
    const table = pgTable()
    await counted.pool.query(`DROP TABLE IF EXISTS "${table}"`)
    const PgStore = pgSession(session)
    const pgStore = new PgStore({ pool: counted.pool, tableName: table, createTableIfMissing: true, pruneSessionInterval: false, disableTouch: true })
    queries = counted.queries
    return pgStore
  }
  const { createClient } = await import('redis')
  const { RedisStore } = await import('connect-redis')
  const client = createClient({ url: redisUrl() })
  await client.connect()
  return new RedisStore({ client, prefix: prefix(), disableTouch: true })
}

const store = await makeStore()
const app = express()
app.disable('etag')
app.disable('x-powered-by')
app.get('/__heap', (_req, res) => { res.end(heap()) })
app.get('/__queries', (_req, res) => { res.end(queries()) })
app.use(
  session({
    secret: SECRET,
    name: 'sid',
    resave: false,
    saveUninitialized: false,
    rolling: false,
    cookie: { maxAge: 24 * 3600_000, httpOnly: true, sameSite: 'lax' },
    ...(store === undefined ? {} : { store }),
  }),
)
app.get('/s1', (_req, res) => { res.end(BODY_OK) })
app.get('/s2', (req, res) => { res.end(String(req.session.n ?? 0)) })
app.get('/s3', (req, res) => {
  const n = (req.session.n ?? 0) + 1
  req.session.n = n
  res.end(String(n))
})
app.get('/s4', (req, res) => {
  req.session.n = 1
  res.end(BODY_OK)
})
app.get('/c/put', (req, res) => {
  const key = concurrencyKey(req.url)
  if (key !== undefined) req.session[key as `c_${string}`] = 1
  res.end(BODY_OK)
})
app.get('/c/count', (req, res) => { res.end(String(countKeys(Object.keys(req.session)))) })
app.get('/c/inc', (req, res) => {
  const n = Number(req.session[HOT_KEY] ?? 0) + 1
  req.session[HOT_KEY] = n
  res.end(String(n))
})
app.get('/c/hot', (req, res) => { res.end(String(req.session[HOT_KEY] ?? 0)) })

const server = app.listen(port(), '127.0.0.1', () => announce(server))
