/**
 * Redis keyspace notifications for the Redis store's `watchExpiry`: a subscriber
 * connection of its own (`client.duplicate()`) on `__keyevent@<db>__:expired`.
 *
 * Redis publishes an `expired` event when it actually removes an expired key (on access
 * or in its active expiry cycle, usually within a fraction of a second of the TTL).
 * Pub/sub is at-most-once: while the subscriber is disconnected, events are lost, and
 * ioredis resubscribes when it reconnects. The server must have `notify-keyspace-events`
 * including `E` and `x` (or `A`); see docs/stores/redis.md.
 */
import type { Redis } from 'ioredis'
import { ConfigError, SessionError } from '../lib/errors.js'
import type { WatchExpiryOptions } from '../lib/store.js'

/** What `notify-keyspace-events` needs for expiry events: keyevent (E) and expired (x, or A for all). */
export function hasExpiryFlags(flags: string): boolean {
  return flags.includes('E') && (flags.includes('x') || flags.includes('A'))
}

/**
 * Subscribe to the expiry events of `client`'s database; call `onExpired` with each
 * expired key starting with `prefix`. With `configure`, the flags are added by CONFIG SET
 * (never removing any); without, they are checked by CONFIG GET when the server allows it.
 */
export async function watchRedisExpiry(
  client: Redis,
  prefix: string,
  onExpired: (key: string) => void,
  options: WatchExpiryOptions & { configure?: boolean } = {},
): Promise<{ stop: () => Promise<void> }> {
  if (client.isCluster) {
    throw new SessionError('ERR_UNSUPPORTED', 'RedisStore.watchExpiry: not on a Cluster (keyspace notifications are per node)')
  }
  await ensureFlags(client, options.configure === true)
  const db = (client.options as { db?: number }).db ?? 0
  const channel = `__keyevent@${db}__:expired`
  const sub = client.duplicate({ enableOfflineQueue: true, lazyConnect: false })
  // A subscriber's errors (a dropped connection) must never be an unhandled 'error' event.
  sub.on('error', (err: unknown) => options.onError?.(err))
  sub.on('message', (ch: string, key: string) => {
    if (ch === channel && key.startsWith(prefix)) onExpired(key.slice(prefix.length))
  })
  // After a reconnect the server may be a restarted one that lost the flags.
  sub.on('ready', () => {
    ensureFlags(client, options.configure === true).catch((err: unknown) => options.onError?.(err))
  })
  try {
    await sub.subscribe(channel)
  } catch (err) {
    sub.disconnect()
    throw err
  }
  return {
    stop: async () => {
      await sub.quit().catch(() => sub.disconnect())
    },
  }
}

async function ensureFlags(client: Redis, configure: boolean): Promise<void> {
  let flags: string
  try {
    const reply = (await client.call('CONFIG', 'GET', 'notify-keyspace-events')) as string[]
    flags = reply[1] ?? ''
  } catch {
    // CONFIG is often disabled on managed Redis: the operator must have set the flags.
    return
  }
  if (hasExpiryFlags(flags)) return
  if (!configure) {
    throw new ConfigError(`RedisStore.watchExpiry: the server's notify-keyspace-events is '${flags}'; it needs 'Ex' (CONFIG SET notify-keyspace-events ${flags}Ex, or watchExpiry's option configure: true)`)
  }
  await client.call('CONFIG', 'SET', 'notify-keyspace-events', `${flags}Ex`)
}
