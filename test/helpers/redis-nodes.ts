/**
 * The Redis nodes of scripts/up-redis-sentinel.sh and scripts/up-redis-cluster.sh as
 * the fault tests handle them: one command on one node by port, INFO fields (a node's
 * PID, role), the primary the sentinels name, the cluster's node table, and the up
 * scripts that bring a killed node back.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { sentinelGroup } from './fault-stores.js'
import { quiet } from './service.js'

const root = new URL('../..', import.meta.url).pathname
const script = (name: string) => () => promisify(execFile)('bash', [`scripts/${name}`], { cwd: root })
/** Run scripts/up-redis-sentinel.sh: a dead node restarts as a replica of the current primary. */
export const upSentinel = script('up-redis-sentinel.sh')
/** Run scripts/up-redis-cluster.sh: a dead node restarts from its nodes.conf and rejoins. */
export const upCluster = script('up-redis-cluster.sh')

/** Run `work` on a connection of its own to 127.0.0.1:`port` that never retries. */
export async function onNode<T>(port: number, work: (node: Redis) => Promise<T>): Promise<T> {
  const node = quiet(new Redis({ port, host: '127.0.0.1', lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null }))
  try {
    await node.connect()
    return await work(node)
  } finally {
    node.disconnect()
  }
}

/** One field of `INFO section` of the node on `port`. */
export async function redisInfo(port: number, section: string, field: string): Promise<string | undefined> {
  const text = await onNode(port, (n) => n.info(section))
  return text.match(new RegExp(`^${field}:(.*)$`, 'm'))?.[1]?.trim()
}

/** The PID of the redis-server on `port`. */
export const redisPid = async (port: number) => Number(await redisInfo(port, 'server', 'process_id'))

/** The port of the primary the first answering sentinel names. */
export async function sentinelPrimary(): Promise<number> {
  for (const s of sentinelGroup.sentinels) {
    try {
      const addr = (await onNode(s.port, (n) => n.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinelGroup.name))) as [string, string]
      return Number(addr[1])
    } catch {
      // the next sentinel
    }
  }
  throw new Error('no sentinel answered')
}

/** A line of CLUSTER NODES. */
export interface ClusterNode {
  id: string
  port: number
  flags: string[]
  /** The primary's id for a replica, `-` for a primary. */
  master: string
  slots: string[]
}

/** CLUSTER NODES as the first of `ports` that answers sees it. */
export async function clusterNodes(ports: number[]): Promise<ClusterNode[]> {
  for (const port of ports) {
    const text = await onNode(port, (n) => n.cluster('NODES')).catch(() => undefined)
    if (text === undefined) continue
    return String(text)
      .trim()
      .split('\n')
      .map((line) => {
        const [id = '', address = '', flags = '', master = '', , , , , ...slots] = line.trim().split(' ')
        return { id, port: Number(address.split('@')[0]?.split(':')[1]), flags: flags.split(','), master, slots }
      })
  }
  throw new Error('no cluster node answered')
}

/** A primary not marked failing. */
export const isLivePrimary = (n: ClusterNode) => n.flags.includes('master') && !n.flags.includes('fail') && !n.flags.includes('fail?')

/**
 * Delete every key matching `pattern` on those of `ports` that are primaries (replicas
 * follow): SCAN, then one UNLINK per key (Cluster keys of one page are in many slots).
 * The fault and soak tests write tens of thousands of hour-long sessions into the shared
 * groups; left there, they dilute Redis's sampled active expiry so much that the expiry
 * tests' short sessions were not expired within 15 s.
 */
export async function unlinkMatching(ports: readonly number[], pattern: string): Promise<void> {
  await Promise.all(
    ports.map((port) =>
      onNode(port, async (node) => {
        if (!/^role:master/m.test(await node.info('replication'))) return
        let cursor = '0'
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
          cursor = next
          if (keys.length > 0) await Promise.all(keys.map((k) => node.unlink(k)))
        } while (cursor !== '0')
      }).catch(() => {}), // a node still down after the test: its keys go with it
    ),
  )
}
