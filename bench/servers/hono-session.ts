/**
 * Peer: @hono/session on Hono (Node or Bun). `BENCH_STORE=cookie`: its default, the
 * session encrypted into the cookie (JWE); `BENCH_STORE=redis`: its `useSessionStorage`
 * hook on ioredis (it ships no store; this is the usual few-line one). As it is used, a
 * handler that does not need the session never calls `get()` (S1). 24 h duration.
 * Its `storage.set` is not awaited by @hono/session: a write's failure is never seen.
 */
import { useSession, useSessionStorage, type SessionEnv } from '@hono/session'
import { Hono } from 'hono'
import { BODY_OK, concurrencyKey, countKeys, HOT_KEY, ioredisOptions, prefix, redisUrl, storeKind } from './common.js'
import { serveHono } from './hono-serve.js'

type Data = Record<string, number>
// 32 bytes, hex-encoded, as @hono/session requires; a bench secret, never a real one.
const secret = '0123456789abcdef'.repeat(4)
const DAY = 24 * 3600

const app = new Hono<SessionEnv<Data>>()
if (storeKind() === 'redis') {
  const { Redis } = await import('ioredis')
  const redis = new Redis(redisUrl(), ioredisOptions)
  await redis.ping()
  const key = (sid: string) => `${prefix()}${sid}`
  app.use(useSessionStorage({
    async get(sid) {
      const raw = await redis.get(key(sid))
      return raw === null ? null : (JSON.parse(raw) as Data)
    },
    set(sid, value) {
      void redis.set(key(sid), JSON.stringify(value), 'EX', DAY)
    },
    delete(sid) {
      void redis.del(key(sid))
    },
  }))
}
app.use(useSession({ secret, duration: { absolute: DAY } }))

app.get('/s1', (c) => c.text(BODY_OK))
app.get('/s2', async (c) => c.text(String((await c.var.session.get())?.n ?? 0)))
app.get('/s3', async (c) => {
  const data = (await c.var.session.get()) ?? {}
  const n = (data.n ?? 0) + 1
  await c.var.session.update({ ...data, n })
  return c.text(String(n))
})
app.get('/s4', async (c) => {
  await c.var.session.update({ n: 1 })
  return c.text(BODY_OK)
})
app.get('/c/put', async (c) => {
  const key = concurrencyKey(c.req.url)
  await c.var.session.update((data) => (key === undefined ? { ...data } : { ...data, [key]: 1 }))
  return c.text(BODY_OK)
})
app.get('/c/count', async (c) => c.text(String(countKeys(Object.keys((await c.var.session.get()) ?? {})))))
app.get('/c/inc', async (c) => {
  const data = (await c.var.session.get()) ?? {}
  const n = Number(data[HOT_KEY] ?? 0) + 1
  await c.var.session.update({ ...data, [HOT_KEY]: n })
  return c.text(String(n))
})
app.get('/c/hot', async (c) => c.text(String((await c.var.session.get())?.[HOT_KEY] ?? 0)))
await serveHono(app)
