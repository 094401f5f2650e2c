/**
 * The soaks' app (bench/soak/run.ts and bench/soak/failover.ts start it with
 * --expose-gc): node:http through `loadAndSave` on the memory store, Redis or Redis
 * Sentinel, with the session kinds the soaks mix — `/read` (S1 without a cookie, S2
 * with one), `/write` (S3, or S4 without a cookie), `/login[?user=id]`, `/renew`
 * (`renewToken`), `/destroy`, `/revoke` (log out everywhere: `revokeUser`, then
 * `destroy`) — each answering the session's counter `n` after the commit. `/__heap`
 * runs a full GC and answers the heap, RSS and what the manager holds; `/__errors`
 * answers the failures the manager logged since the last call, by kind.
 *
 * Environment: SOAK_STORE (memory | redis | sentinel), SOAK_LIFETIME_MS, REDIS_URL,
 * SOAK_SENTINELS (host:port,…) and SOAK_SENTINEL_NAME, SOAK_STORE_OPTIONS (JSON, spread
 * into the RedisStore options), SOAK_FROM (dist, the default: the compiled code an
 * installed package runs, `npm run build` first; or src: the sources through tsx).
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Store } from '../../lib/store.js'

const storeName = process.env.SOAK_STORE ?? 'memory'
const lifetime = Number(process.env.SOAK_LIFETIME_MS ?? 60_000)
const root = new URL(process.env.SOAK_FROM === 'src' ? '../../' : '../../dist/', import.meta.url).href
/** A module of this library by its path under the repository root (`stores/redis.js`). */
const module = <T>(path: string): Promise<T> => import(`${root}${path}`) as Promise<T>
const lib = await module<typeof import('../../lib/index.js')>('lib/index.js')

async function makeStore(): Promise<Store> {
  if (storeName === 'memory') {
    const { MemoryStore } = await module<typeof import('../../stores/memory.js')>('stores/memory.js')
    return new MemoryStore({ maxEntries: 200_000, sweepInterval: 1000 })
  }
  const { Redis } = await import('ioredis')
  const redis = await module<typeof import('../../stores/redis.js')>('stores/redis.js')
  const options = JSON.parse(process.env.SOAK_STORE_OPTIONS ?? '{}') as Record<string, unknown>
  if (storeName === 'sentinel') {
    // As docs/stores/redis.md configures a Sentinel client.
    const sentinels = (process.env.SOAK_SENTINELS ?? '127.0.0.1:26380').split(',').map((s) => {
      const [host = '127.0.0.1', port = '26379'] = s.split(':')
      return { host, port: Number(port) }
    })
    const client = new Redis({ sentinels, name: process.env.SOAK_SENTINEL_NAME ?? 'sessions', ...redis.sentinelClientOptions })
    client.on('error', () => {})
    return new redis.RedisStore(client, options)
  }
  const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  return new redis.RedisStore(client, options)
}

/** What failed, by kind: the message, the error's code and message, and its cause's. */
const errors = new Map<string, number>()
const describe = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err)
  const code = (err as { code?: unknown }).code
  const own = `${typeof code === 'string' ? `${code} ` : ''}${err.message}`
  return err.cause === undefined ? own : `${own} <- ${describe(err.cause)}`
}

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')
const manager = new lib.SessionManager({
  store: await makeStore(),
  lifetime,
  prefix: `soak:${process.pid}:`,
  logger: {
    warn() {},
    error: (m: string, e?: unknown) => {
      const kind = `${m}: ${describe(e)}`.slice(0, 300)
      errors.set(kind, (errors.get(kind) ?? 0) + 1)
    },
  },
})

let user = 0
const server = createServer(
  manager.loadAndSave(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://soak')
    switch (url.pathname) {
      case '/__heap': {
        for (let i = 0; i < 4; i++) gc()
        const m = process.memoryUsage()
        res.end(JSON.stringify({ heapUsed: m.heapUsed, rss: m.rss, inFlight: manager.inFlight }))
        return
      }
      case '/__errors':
        res.end(JSON.stringify(Object.fromEntries(errors)))
        errors.clear()
        return
      case '/write':
        manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
        manager.put(req, 'blob', 'x'.repeat(200))
        break
      case '/login':
        await manager.login(req, url.searchParams.get('user') ?? `u${user++ % 5000}`)
        break
      case '/renew':
        await manager.renewToken(req)
        break
      case '/destroy':
        await manager.destroy(req)
        break
      case '/revoke': {
        const id = manager.userId(req)
        if (id !== undefined) await manager.revokeUser(id)
        await manager.destroy(req)
        break
      }
    }
    res.end(String(manager.getNumber(req, 'n')))
  }),
)
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  console.log(`ready http://127.0.0.1:${(server.address() as AddressInfo).port}`)
})
