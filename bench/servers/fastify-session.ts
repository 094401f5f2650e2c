/**
 * Peer: @fastify/session (+ @fastify/cookie) on Fastify, with its MemoryStore
 * (`BENCH_STORE=memory`) or connect-redis over a node-redis client (`BENCH_STORE=redis`).
 * Configured with this library's semantics: `saveUninitialized: false`,
 * `rolling: false` (its default `true` writes the store on every request), no Secure
 * flag (the bench is plain http), 24 h cookie.
 */
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import Fastify from 'fastify'
import { announce, BODY_OK, concurrencyKey, countKeys, heap, HOT_KEY, port, prefix, redisUrl, SECRET, storeKind } from './common.js'

declare module 'fastify' {
  interface Session {
    n?: number
    hot?: number
    [key: `c_${string}`]: number
  }
}

async function makeStore(): Promise<fastifySession.SessionStore | undefined> {
  if (storeKind() === 'memory') return undefined
  const { createClient } = await import('redis')
  const { RedisStore } = await import('connect-redis')
  const client = createClient({ url: redisUrl() })
  await client.connect()
  return new RedisStore({ client, prefix: prefix(), disableTouch: true }) as unknown as fastifySession.SessionStore
}

const store = await makeStore()
const app = Fastify({ logger: false })
app.get('/__heap', async () => heap())
await app.register(fastifyCookie)
await app.register(fastifySession, {
  secret: SECRET,
  cookieName: 'sid',
  saveUninitialized: false,
  rolling: false,
  cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: 24 * 3600_000 },
  ...(store === undefined ? {} : { store }),
})

const getN = (v: unknown) => (typeof v === 'number' ? v : 0)
app.get('/s1', async () => BODY_OK)
app.get('/s2', async (request) => String(getN(request.session.get('n'))))
app.get('/s3', async (request) => {
  const n = getN(request.session.get('n')) + 1
  request.session.set('n', n)
  return String(n)
})
app.get('/s4', async (request) => {
  request.session.set('n', 1)
  return BODY_OK
})
app.get('/c/put', async (request) => {
  const key = concurrencyKey(request.url)
  if (key !== undefined) request.session.set(key as `c_${string}`, 1)
  return BODY_OK
})
app.get('/c/count', async (request) => String(countKeys(Object.keys(request.session))))
app.get('/c/inc', async (request) => {
  const n = Number(request.session.get(HOT_KEY) ?? 0) + 1
  request.session.set(HOT_KEY, n)
  return String(n)
})
app.get('/c/hot', async (request) => String(request.session.get(HOT_KEY) ?? 0))

await app.listen({ port: port(), host: '127.0.0.1' })
announce(app.server)
