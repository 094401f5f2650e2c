/**
 * Peer: hono-sessions on Hono (Node or Bun). `BENCH_STORE=memory`: its MemoryStore;
 * `cookie`: its CookieStore (iron-webcrypto sealed cookie); `redis`: a store on ioredis
 * (its four-method Store interface; it ships none for Redis). It creates and stores a
 * session for every request without one, S1 included — that is how it works. The
 * session id in the cookie is encrypted with the key, as its README recommends. 24 h.
 */
import { Hono } from 'hono'
import { CookieStore, MemoryStore, type Session, type SessionData, sessionMiddleware, type Store } from 'hono-sessions'
import { BODY_OK, concurrencyKey, countKeys, HOT_KEY, ioredisOptions, prefix, redisUrl, SECRET, storeKind } from './common.js'
import { serveHono } from './hono-serve.js'

type Data = Record<string, number>
const DAY = 24 * 3600

async function store(): Promise<Store | CookieStore> {
  switch (storeKind()) {
    case 'memory':
      return new MemoryStore()
    case 'cookie':
      return new CookieStore()
    case 'redis': {
      const { Redis } = await import('ioredis')
      const redis = new Redis(redisUrl(), ioredisOptions)
      await redis.ping()
      const key = (sid: string) => `${prefix()}${sid}`
      const save = async (sid: string, data: SessionData) => {
        await redis.set(key(sid), JSON.stringify(data), 'EX', DAY)
      }
      const redisStore: Store = {
        async getSessionById(sid) {
          const raw = sid === undefined ? null : await redis.get(key(sid))
          return raw === null ? null : (JSON.parse(raw) as SessionData)
        },
        createSession: save,
        persistSessionData: save,
        async deleteSession(sid) {
          await redis.del(key(sid))
        },
      }
      return redisStore
    }
    default:
      throw new Error(`unknown BENCH_STORE ${storeKind()}`)
  }
}

const app = new Hono<{ Variables: { session: Session<Data>; session_key_rotation: boolean } }>()
app.use('*', sessionMiddleware({
  store: await store(),
  encryptionKey: SECRET,
  expireAfterSeconds: DAY,
  cookieOptions: { sameSite: 'Lax', path: '/', httpOnly: true },
}))
const num = (v: unknown) => (typeof v === 'number' ? v : 0)
app.get('/s1', (c) => c.text(BODY_OK))
app.get('/s2', (c) => c.text(String(num(c.get('session').get('n')))))
app.get('/s3', (c) => {
  const session = c.get('session')
  const n = num(session.get('n')) + 1
  session.set('n', n)
  return c.text(String(n))
})
app.get('/s4', (c) => {
  c.get('session').set('n', 1)
  return c.text(BODY_OK)
})
app.get('/c/put', (c) => {
  const key = concurrencyKey(c.req.url)
  if (key !== undefined) c.get('session').set(key, 1)
  return c.text(BODY_OK)
})
app.get('/c/count', (c) => c.text(String(countKeys(Object.keys(c.get('session').getCache()._data ?? {})))))
app.get('/c/inc', (c) => {
  const session = c.get('session')
  const n = num(session.get(HOT_KEY)) + 1
  session.set(HOT_KEY, n)
  return c.text(String(n))
})
app.get('/c/hot', (c) => c.text(String(num(c.get('session').get(HOT_KEY)))))
await serveHono(app)
