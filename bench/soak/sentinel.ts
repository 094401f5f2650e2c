/**
 * The Redis Sentinel group a failover soak runs on, and its failover: SIGKILL the
 * primary the sentinels name, wait for them to promote the replica, restart the killed
 * node as a replica through scripts/up-redis-sentinel.sh.
 *
 * `soakGroup` is the soak's own group (data nodes 6480/6481, sentinels 26480-26482,
 * master name "soak"): a 30-minute soak never meets the test suite's failover tests,
 * which kill the primary of `testGroup` (6380/6381, 26380-26382, "sessions") under the
 * 'redis-sentinel' lock. (6390 up is where bench/lib/redis.ts looks for a free port.)
 */
import { execFile } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'

export interface SentinelGroup {
  nodes: number[]
  sentinels: number[]
  name: string
  /** Its files live in /tmp/session-manager/redis-<group>/. */
  group: string
}

export const soakGroup: SentinelGroup = { nodes: [6480, 6481], sentinels: [26480, 26481, 26482], name: 'soak', group: 'soak-sentinel' }
export const testGroup: SentinelGroup = { nodes: [6380, 6381], sentinels: [26380, 26381, 26382], name: 'sessions', group: 'sentinel' }

const root = new URL('../../', import.meta.url).pathname

/** Bring the group up, or repair it (a dead node restarted as a replica); resolves once healthy. */
export async function upGroup(g: SentinelGroup): Promise<void> {
  await promisify(execFile)('bash', ['scripts/up-redis-sentinel.sh'], {
    cwd: root,
    env: {
      ...process.env,
      REDIS_SENTINEL_NODES: g.nodes.join(' '),
      REDIS_SENTINEL_PORTS: g.sentinels.join(' '),
      REDIS_SENTINEL_NAME: g.name,
      REDIS_SENTINEL_GROUP: g.group,
    },
  })
}

const admin = (port: number) =>
  new Redis({ port, host: '127.0.0.1', lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null }).on('error', () => {})

/** The port of the primary the first answering sentinel names. */
export async function primaryOf(g: SentinelGroup): Promise<number> {
  for (const port of g.sentinels) {
    const s = admin(port)
    try {
      await s.connect()
      const addr = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', g.name)) as [string, string] | null
      if (addr !== null) return Number(addr[1])
    } catch {
      // the next sentinel
    } finally {
      s.disconnect()
    }
  }
  throw new Error(`no sentinel of ${g.name} answered`)
}

async function pidOf(port: number): Promise<number> {
  const node = admin(port)
  try {
    await node.connect()
    return Number(/^process_id:(\d+)/m.exec(await node.info('server'))?.[1])
  } finally {
    node.disconnect()
  }
}

export interface Failover {
  /** The killed primary and the promoted node. */
  killed: number
  promoted: number
  /** When the SIGKILL was sent (epoch ms). */
  at: number
  /** ms from the SIGKILL until the sentinels named the new primary. */
  promotedAfterMs: number
  /** ms from the SIGKILL until the group was healthy again (killed node back as a replica). */
  healthyAfterMs: number
}

/**
 * SIGKILL the current primary, wait for the promotion, restart the killed node as a
 * replica. `onKill` is called with the time of the SIGKILL, as it is sent.
 */
export async function failover(g: SentinelGroup, onKill: (at: number) => void = () => {}): Promise<Failover> {
  const killed = await primaryOf(g)
  const pid = await pidOf(killed)
  if (!(pid > 0)) throw new Error(`no pid for the primary 127.0.0.1:${killed}`)
  const at = Date.now()
  process.kill(pid, 'SIGKILL')
  onKill(at)
  let promoted = killed
  while (promoted === killed) {
    if (Date.now() - at > 60_000) throw new Error(`no promotion within 60 s of killing 127.0.0.1:${killed}`)
    await sleep(100)
    promoted = await primaryOf(g).catch(() => killed)
  }
  const promotedAfterMs = Date.now() - at
  await upGroup(g)
  return { killed, promoted, at, promotedAfterMs, healthyAfterMs: Date.now() - at }
}
