/**
 * One subscriber connection of the Redis store's expiry watch (redis-expiry.ts): it
 * checks (or sets) the server's `notify-keyspace-events` flags, subscribes to the
 * expired events of one database, and checks the flags again after each reconnect —
 * the server it reaches then may be a restarted node or a newly promoted primary.
 */
import type { Redis } from 'ioredis'
import { ConfigError } from '../lib/errors.js'
import type { WatchExpiryOptions } from '../lib/store.js'

/** Options of the Redis watch: the manager's, plus the store's own. */
export interface RedisWatchOptions extends WatchExpiryOptions {
  /** Add the flags by CONFIG SET when missing (never removing any). Default false: only check. */
  configure?: boolean
  /** Cluster only: how often the topology is asked for (ms) to follow failovers. Default 2000. */
  refreshInterval?: number
}

/** What `notify-keyspace-events` needs for expiry events: keyevent (E) and expired (x, or A for all). */
export function hasExpiryFlags(flags: string): boolean {
  return flags.includes('E') && (flags.includes('x') || flags.includes('A'))
}

/**
 * Connect `sub` (a connection of its own, lazy), make sure its server has the flags,
 * subscribe it to the expiry events of `db` and hand each expired key to `handle`.
 * After each reconnect (to the same server, a restarted one, or the new primary a
 * Sentinel names) the flags are checked again. Resolves to the function that ends it.
 */
export async function subscribeNode(
  sub: Redis,
  db: number,
  handle: (key: string) => void,
  options: RedisWatchOptions,
): Promise<() => Promise<void>> {
  const channel = `__keyevent@${db}__:expired`
  // A subscriber's errors (a dropped connection) must never be an unhandled 'error' event.
  sub.on('error', (err: unknown) => options.onError?.(err))
  sub.on('message', (ch: string, key: string) => {
    if (ch === channel) handle(key)
  })
  try {
    await sub.connect()
    await ensureFlags(sub, options.configure === true)
    await sub.subscribe(channel)
  } catch (err) {
    sub.disconnect()
    throw err
  }
  // After a reconnect the server may be a restarted one, or a promoted replica, without the flags.
  sub.on('ready', () => {
    ensureFlags(sub, options.configure === true).catch((err: unknown) => options.onError?.(err))
  })
  return async () => {
    // QUIT would wait in the offline queue of a connection that is reconnecting.
    if (sub.status === 'ready') await sub.quit().catch(() => {})
    // Also after QUIT: only disconnect() ends a Sentinel client's failover detector connections.
    sub.disconnect()
  }
}

/**
 * Check (and with `configure`, add) the flags on the server `sub` is connected to,
 * through a short-lived duplicate of it: a subscribed connection runs no CONFIG.
 */
async function ensureFlags(sub: Redis, configure: boolean): Promise<void> {
  // No failover detector of its own: it lives for two commands.
  const admin = sub.duplicate({ lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, failoverDetector: false })
  admin.on('error', () => {}) // the failure is the connect() rejection below
  try {
    await admin.connect()
    let flags: string
    try {
      const reply = (await admin.call('CONFIG', 'GET', 'notify-keyspace-events')) as string[]
      flags = reply[1] ?? ''
    } catch {
      // CONFIG is often disabled on managed Redis: the operator must have set the flags.
      return
    }
    if (hasExpiryFlags(flags)) return
    const where = `${admin.stream.remoteAddress ?? '?'}:${admin.stream.remotePort ?? '?'}`
    if (!configure) {
      throw new ConfigError(`RedisStore.watchExpiry: notify-keyspace-events of ${where} is '${flags}'; it needs 'Ex' (CONFIG SET notify-keyspace-events ${flags}Ex, or watchExpiry's option configure: true)`)
    }
    await admin.call('CONFIG', 'SET', 'notify-keyspace-events', `${flags}Ex`)
  } finally {
    admin.disconnect()
  }
}
