/**
 * Peer: koa-session on Koa, with its default cookie storage (`BENCH_STORE=cookie`:
 * the session is base64 JSON in a signed cookie) or an external store over ioredis
 * (`BENCH_STORE=redis`; koa-session ships none, so this is the usual ten-line adapter).
 * `rolling: false`, `renew: false`, 24 h maxAge.
 */
import Koa from 'koa'
import session from 'koa-session'
import { announce, BODY_OK, concurrencyKey, countKeys, heap, HOT_KEY, ioredisOptions, pathOf, port, prefix, redisUrl, SECRET, storeKind } from './common.js'

interface ExternalStore {
  get(key: string): Promise<unknown>
  set(key: string, sess: unknown, maxAge: number | 'session' | undefined): Promise<void>
  destroy(key: string): Promise<void>
}

async function makeStore(): Promise<ExternalStore | undefined> {
  if (storeKind() === 'cookie') return undefined
  const { Redis } = await import('ioredis')
  const redis = new Redis(redisUrl(), ioredisOptions)
  await redis.ping()
  const p = prefix()
  return {
    async get(key) {
      const value = await redis.get(p + key)
      return value === null ? undefined : JSON.parse(value)
    },
    async set(key, sess, maxAge) {
      const ms = typeof maxAge === 'number' ? maxAge : 24 * 3600_000
      await redis.set(p + key, JSON.stringify(sess), 'PX', ms)
    },
    async destroy(key) {
      await redis.del(p + key)
    },
  }
}

const store = await makeStore()
const app = new Koa()
app.keys = [SECRET]
const middleware = session(
  { key: 'sid', maxAge: 24 * 3600_000, rolling: false, renew: false, ...(store === undefined ? {} : { store }) },
  app,
)

app.use(async (ctx, next) => {
  if (ctx.path === '/__heap') ctx.body = heap()
  else await middleware(ctx, next)
})
app.use((ctx) => {
  const s = ctx.session as unknown as Record<string, unknown> | null
  const getN = () => (typeof s?.n === 'number' ? s.n : 0)
  switch (pathOf(ctx.url)) {
    case '/s1':
      ctx.body = BODY_OK
      return
    case '/s2':
      ctx.body = String(getN())
      return
    case '/s3': {
      const n = getN() + 1
      if (s !== null) s.n = n
      ctx.body = String(n)
      return
    }
    case '/s4':
      if (s !== null) s.n = 1
      ctx.body = BODY_OK
      return
    case '/c/put': {
      const key = concurrencyKey(ctx.url)
      if (key !== undefined && s !== null) s[key] = 1
      ctx.body = BODY_OK
      return
    }
    case '/c/count':
      ctx.body = String(countKeys(Object.keys(s ?? {})))
      return
    case '/c/inc': {
      const n = Number(s?.[HOT_KEY] ?? 0) + 1
      if (s !== null) s[HOT_KEY] = n
      ctx.body = String(n)
      return
    }
    case '/c/hot':
      ctx.body = String(s?.[HOT_KEY] ?? 0)
      return
    default:
      ctx.status = 404
  }
})

const server = app.listen(port(), '127.0.0.1', () => announce(server))
