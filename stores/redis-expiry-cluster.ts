/**
 * The Redis store's expiry watch on a Cluster: keyspace notifications are published
 * on the node that expired the key only, never propagated, so there is a subscriber
 * connection per node — on the replicas too. A replica expires nothing itself (its
 * primary's DEL reaches it) and publishes no `expired` event, but once promoted it
 * expires at once the keys whose TTL passed while its primary was dead; a subscriber
 * already on it hears those. The set follows the topology the `Cluster` client knows
 * (`cluster.nodes('all')`): it is brought up to date on the client's own `refresh`,
 * `+node` and `-node` events, and every `refreshInterval` ms the slot map is asked for
 * again (`refreshSlotsCache`), so a node that joins gets a subscriber and a dead one's
 * is ended. A key is reported once even if two nodes publish it (redis-expiry.ts).
 */
import type { Cluster, Redis } from 'ioredis'
import { subscribeNode, type RedisWatchOptions } from './redis-subscriber.js'

const nodeKey = (node: Redis) => `${String(node.options.host)}:${String(node.options.port)}`
// ioredis's default for a standalone client, when the cluster sets no clusterNodeRetryStrategy.
const defaultRetry = (times: number) => Math.min(times * 50, 2000)

/** Subscribe on every node of `cluster` and follow the topology; `handle` gets each expired key. */
export async function watchClusterExpiry(
  cluster: Cluster,
  handle: (key: string) => void,
  options: RedisWatchOptions,
): Promise<{ stop: () => Promise<void> }> {
  const subs = new Map<string, { stop: Promise<() => Promise<void>> }>()
  let stopped = false
  const retryStrategy = cluster.options.clusterNodeRetryStrategy ?? defaultRetry

  /** A subscriber on `node`; on failure it is forgotten, so the next sync tries again. */
  const add = (key: string, node: Redis) => {
    // The pool's connection never reconnects (ioredis waits for MOVED instead); this
    // one does, until the node leaves the client's topology.
    const sub = node.duplicate({ lazyConnect: true, readOnly: false, enableOfflineQueue: true, retryStrategy })
    const entry = {
      stop: subscribeNode(sub, 0, handle, options).catch((err: unknown) => {
        if (subs.get(key) === entry) subs.delete(key)
        throw err
      }),
    }
    subs.set(key, entry)
    return entry.stop
  }
  /** Subscribers for the nodes the client knows now, and none for the others. */
  const sync = () => {
    if (stopped) return []
    const nodes = new Map(cluster.nodes('all').map((node) => [nodeKey(node), node]))
    for (const [key, entry] of subs) {
      if (nodes.has(key)) continue
      subs.delete(key)
      entry.stop.then((stop) => stop(), () => {}).catch(() => {})
    }
    return [...nodes].filter(([key]) => !subs.has(key)).map(([key, node]) => add(key, node))
  }
  const resync = () => {
    for (const pending of sync()) pending.catch((err: unknown) => options.onError?.(err))
  }

  if (cluster.status === 'wait') await cluster.connect()
  else if (cluster.status !== 'ready') await new Promise((resolve) => cluster.once('ready', resolve))
  const first = sync()
  try {
    await Promise.all(first)
  } catch (err) {
    stopped = true
    await Promise.all([...subs.values()].map((e) => e.stop.then((stop) => stop(), () => {})))
    throw err
  }
  cluster.on('refresh', resync)
  cluster.on('+node', resync)
  cluster.on('-node', resync)
  const timer = setInterval(() => cluster.refreshSlotsCache(), options.refreshInterval ?? 2000)
  timer.unref()
  return {
    stop: async () => {
      stopped = true
      clearInterval(timer)
      cluster.off('refresh', resync)
      cluster.off('+node', resync)
      cluster.off('-node', resync)
      const all = [...subs.values()]
      subs.clear()
      await Promise.all(all.map((e) => e.stop.then((stop) => stop(), () => {})))
    },
  }
}
