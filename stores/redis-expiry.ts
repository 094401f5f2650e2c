/**
 * Redis keyspace notifications for the Redis store's `watchExpiry`: subscriber
 * connections of its own on `__keyevent@<db>__:expired` — one made with
 * `client.duplicate()` on a standalone or Sentinel-configured client, one per node
 * (replicas too) on a Cluster (redis-expiry-cluster.ts), where notifications stay on
 * the node that expired the key.
 *
 * Redis publishes an `expired` event when it actually removes an expired key (on access
 * or in its active expiry cycle, usually within a fraction of a second of the TTL).
 * Pub/sub is at-most-once: while a subscriber is disconnected, events are lost, and
 * ioredis resubscribes when it reconnects (through the sentinels, to the current
 * primary, when the client is Sentinel-configured). The server must have
 * `notify-keyspace-events` including `E` and `x` (or `A`); see docs/stores/redis.md.
 *
 * An expired key is reported unless it was a renewal's forward: its marker
 * (redis-forward.ts) is deleted, and a marker that was there means a forward.
 */
import type { Cluster, Redis } from 'ioredis'
import { watchClusterExpiry } from './redis-expiry-cluster.js'
import { forwardMarker, isForwardMarker } from './redis-forward.js'
import { subscribeNode, type RedisWatchOptions } from './redis-subscriber.js'

export type { RedisWatchOptions } from './redis-subscriber.js'
export { hasExpiryFlags } from './redis-subscriber.js'

/** Keys seen lately, so that no expiry is reported twice; the oldest are forgotten past `limit`. */
class Recent {
  readonly #keys = new Set<string>()
  constructor(readonly limit = 10_000) {}
  /** True the first time `key` is added (while it is remembered). */
  add(key: string): boolean {
    if (this.#keys.has(key)) return false
    this.#keys.add(key)
    if (this.#keys.size > this.limit) this.#keys.delete(this.#keys.values().next().value as string)
    return true
  }
}

/**
 * Subscribe to the expiry events of `client`'s database (of every node, on a
 * Cluster); call `onExpired` with each expired key starting with `prefix`, once. With
 * `configure`, the flags are added by CONFIG SET; without, they are checked by CONFIG
 * GET when the server allows it — on each node, and again after each reconnect.
 */
export async function watchRedisExpiry(
  client: Redis | Cluster,
  prefix: string,
  onExpired: (key: string) => void,
  options: RedisWatchOptions = {},
): Promise<{ stop: () => Promise<void> }> {
  const recent = new Recent()
  const handle = (key: string) => {
    if (!key.startsWith(prefix) || isForwardMarker(key) || !recent.add(key)) return
    client.del(forwardMarker(key)).then(
      (was) => {
        if (was === 0) onExpired(key.slice(prefix.length))
      },
      (err: unknown) => {
        // Unknown whether it was a forward: report it rather than lose a session's expiry.
        options.onError?.(err)
        onExpired(key.slice(prefix.length))
      },
    )
  }
  if (client.isCluster) return watchClusterExpiry(client as Cluster, handle, options)
  const db = ((client as Redis).options as { db?: number }).db ?? 0
  const sub = (client as Redis).duplicate({ enableOfflineQueue: true, lazyConnect: true })
  return { stop: await subscribeNode(sub, db, handle, options) }
}
