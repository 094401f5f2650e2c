/**
 * What every bench server shares: the routes of the scenarios, how a server announces
 * itself ("ready PORT" on stdout), the Redis connection settings the harness passes
 * in the environment, and the two measurement endpoints (`/__heap`, `/__stats`).
 *
 * Routes (identical for every contender; bare servers answer every path with `ok`):
 *
 * | path | scenario | handler |
 * |---|---|---|
 * | `/s1` | S1 anonymous | does not touch the session |
 * | `/s2` | S2 read | reads the number `n` |
 * | `/s3` | S3 write | `n = n + 1` |
 * | `/s4` | S4 new | puts `n = 1` (a new session per cookie-less request) |
 * | `/c/put?k=c_7` | concurrency check | puts key `c_7` |
 * | `/c/count` | concurrency check | how many `c_*` keys the session holds |
 * | `/c/inc` | hot session | adds 1 to `hot` (ours: `increment`; peers: read, add, write) |
 * | `/c/hot` | hot session | the number at `hot` |
 * | `/__heap` | memory per session | heap used after a full GC (needs `--expose-gc`) |
 * | `/__stats` | store calls | how often each store method ran (this library only) |
 */
import type { Server } from 'node:http'

export const BODY_OK = 'ok'

/** The port to listen on (the harness passes 0: any free port). */
export const port = (): number => Number(process.env.PORT ?? 0)

/** Redis of the harness (a dedicated server, so other traffic never counts). */
export const redisUrl = (): string => process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6390/0'

/** The store a server file should use: `memory`, `redis` or `cookie`. */
export const storeKind = (): string => process.env.BENCH_STORE ?? 'memory'

/** Key prefix of this contender in the shared bench Redis. */
export const prefix = (): string => `${process.env.BENCH_NAME ?? 'bench'}:`

/** 32+ characters, as every peer requires; a bench secret, never a real one. */
export const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789'

/** Tell the harness we listen: it waits for exactly this line. */
export function announce(server: Server): void {
  const address = server.address()
  const actual = typeof address === 'object' && address !== null ? address.port : 0
  // A clean exit on SIGTERM, so `--cpu-prof` gets to write its profile.
  process.once('SIGTERM', () => process.exit(0))
  process.stdout.write(`ready ${actual}\n`)
}

/** `{ heapUsed }` after two full collections, for the memory-per-session check. */
export function heap(): string {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  return JSON.stringify({ heapUsed: process.memoryUsage().heapUsed, gc: gc !== undefined })
}

/** The counter of the hot-session check. */
export const HOT_KEY = 'hot'

/** The key of a concurrency-check put, from `/c/put?k=c_12`; undefined when malformed. */
export function concurrencyKey(url: string | undefined): string | undefined {
  const k = new URL(url ?? '/', 'http://x').searchParams.get('k') ?? ''
  return /^c_\d{1,3}$/.test(k) ? k : undefined
}

/** Number of concurrency-check keys among `keys`. */
export const countKeys = (keys: Iterable<string>): number => {
  let n = 0
  for (const k of keys) if (k.startsWith('c_')) n++
  return n
}

/** Path without the query string. */
export const pathOf = (url: string | undefined): string => {
  const u = url ?? '/'
  const q = u.indexOf('?')
  return q === -1 ? u : u.slice(0, q)
}

const COUNTED = ['find', 'findVersioned', 'commit', 'commitIfVersion', 'touch', 'delete', 'seal', 'open'] as const

/**
 * Count the calls of a store's methods (for `/__stats`), by shadowing each method on
 * the instance with a counting wrapper bound to it: capability detection and private
 * fields keep working, and the cost is one increment per call.
 */
export function countCalls<S extends object>(store: S): { store: S; stats: () => string } {
  const counts: Record<string, number> = {}
  const target = store as Record<string, unknown>
  for (const name of COUNTED) {
    const method = target[name]
    if (typeof method !== 'function') continue
    const bound = (method as (...args: unknown[]) => unknown).bind(store)
    counts[name] = 0
    target[name] = (...args: unknown[]) => {
      counts[name] = (counts[name] ?? 0) + 1
      return bound(...args)
    }
  }
  return { store, stats: () => JSON.stringify(counts) }
}

/** ioredis options the bench uses for every ioredis client (fail fast, never queue forever). */
export const ioredisOptions = { maxRetriesPerRequest: 1, connectTimeout: 2000, enableAutoPipelining: false } as const
