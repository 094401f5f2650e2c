/**
 * The Redis store's expiry watch on a Cluster: keyspace notifications are published
 * on the node that expired the key only, never propagated, so there is a subscriber
 * connection per primary, and the set follows the topology the `Cluster` client knows
 * (`cluster.nodes('master')`). It is brought up to date on the client's own `refresh`,
 * `+node` and `-node` events, and every `refreshInterval` ms the slot map is asked for
 * again (`refreshSlotsCache`): after a failover the promoted replica gets a subscriber
 * within about that long of the Cluster naming it, and the dead primary's is ended.
 * Replicas are not subscribed: they do not expire keys (their primary's DEL reaches
 * them), so they publish no `expired` event.
 */
import type { Cluster, Redis } from 'ioredis'
import { subscribeNode, type RedisWatchOptions } from './redis-subscriber.js'

const nodeKey = (node: Redis) => `${String(node.options.host)}:${String(node.options.port)}`
// ioredis's default for a standalone client, when the cluster sets no clusterNodeRetryStrategy.
const defaultRetry = (times: number) => Math.min(times * 50, 2000)

/** Subscribe on every primary of `cluster` and follow failovers; `handle` gets each expired key. */
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
    // one does, until the node is no longer a primary.
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
  /** Subscribers for the primaries the client knows now, and none for the others. */
  const sync = () => {
    if (stopped) return []
    const masters = new Map(cluster.nodes('master').map((node) => [nodeKey(node), node]))
    for (const [key, entry] of subs) {
      if (masters.has(key)) continue
      subs.delete(key)
      entry.stop.then((stop) => stop(), () => {}).catch(() => {})
    }
    return [...masters].filter(([key]) => !subs.has(key)).map(([key, node]) => add(key, node))
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
