/**
 * RedisStore.watchExpiry on the Redis Cluster of scripts/up-redis-cluster.sh
 * (REDIS_CLUSTER_NODES, default 127.0.0.1:7000-7005), through SessionManager.watchExpiry
 * over real HTTP: keyspace notifications stay on the node that expired the key, so the
 * store subscribes on every node. Sessions spread over the primaries are each
 * reported once; a renewal's forward is not; then one primary is SIGKILLed (taking
 * turns with the other Cluster tests), its replica is promoted — already subscribed,
 * as every node is — and sessions expiring on it are reported, those whose TTL passed
 * while the primary was dead too (late: nobody expires them until the promotion). The
 * test reports the figures. The killed node is restarted (as a replica) by the up
 * script and subscribed again.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t from 'tap'
import { Cluster, Redis } from 'ioredis'
import { type ExpiredEvent, SessionManager } from '../../lib/index.js'
import { sessionId } from '../../lib/events.js'
import { RedisStore, clusterClientOptions, redisClientOptions } from '../../stores/redis.js'
import { keySlot } from '../../stores/redis-batch.js'
import { takeTurns } from '../helpers/exclusive.js'
import { forwardNotReported, probing, sessionApp, until } from '../helpers/expiry.js'
import { Client } from '../helpers/http.js'
import { quiet, reachable } from '../helpers/service.js'

const seeds = (process.env.REDIS_CLUSTER_NODES ?? '127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002')
  .split(',')
  .map((hostPort) => {
    const [host = '127.0.0.1', port = '7000'] = hostPort.split(':')
    return { host, port: Number(port) }
  })
const name = `redis-expiry-cluster-${process.pid}`
const connect = () =>
  quiet(new Cluster(seeds, { ...clusterClientOptions, redisOptions: { ...redisClientOptions, connectionName: name }, lazyConnect: true }))
const admin = connect()
t.teardown(() => admin.disconnect())
const probe = async () => {
  await admin.connect()
  if (!(await admin.cluster('INFO')).includes('cluster_state:ok')) throw new Error('cluster_state is not ok')
}
if (!(await reachable(t, `the Redis Cluster at ${seeds.map((n) => `${n.host}:${n.port}`).join(',')}`, probe))) process.exit()
await takeTurns(t, 'redis-cluster')
const upCluster = () =>
  promisify(execFile)('bash', ['scripts/up-redis-cluster.sh'], { cwd: new URL('../..', import.meta.url).pathname })
await upCluster() // an earlier run may have left a node rejoining

/** One node of the cluster by address, for one command. */
async function onNode<T>(addr: string, work: (node: Redis) => Promise<T>): Promise<T> {
  const [host, port] = addr.split(':')
  const node = quiet(new Redis({ host, port: Number(port), lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null }))
  try {
    await node.connect()
    return await work(node)
  } finally {
    node.disconnect()
  }
}
interface Node { id: string; addr: string; flags: string[]; master: string; slots: string[] }
/** CLUSTER NODES as a node sees it, the flags field split exactly (`fail?`, `noaddr` are flags, not substrings). */
const clusterNodes = async (addr: string): Promise<Node[]> =>
  String(await onNode(addr, (n) => n.cluster('NODES'))).trim().split('\n').map((line) => {
    const [id = '', address = '', flags = '', master = '', , , , , ...slots] = line.trim().split(' ')
    return { id, addr: address.split('@')[0] ?? '', flags: flags.split(','), master, slots }
  })
let known = seeds.map((s) => `${s.host}:${s.port}`)
/** CLUSTER NODES of the first node that answers (the one killed below does not). */
const view = async (): Promise<Node[]> => {
  for (const addr of known) {
    const nodes = await clusterNodes(addr).catch(() => undefined)
    if (nodes === undefined) continue
    known = [...new Set([...known, ...nodes.map((n) => n.addr)])]
    return nodes
  }
  throw new Error('no cluster node answered')
}
const isPrimary = (n: Node) => n.flags.includes('master') && !n.flags.includes('fail') && !n.flags.includes('fail?')
const allNodes = async () => (await view()).map((n) => n.addr)
/** Pub/sub connections of this file on the node at `addr`. */
const subscribers = async (addr: string) =>
  String(await onNode(addr, (n) => n.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))).split('\n').filter((l) => l.includes(` name=${name} `)).length

/** The flags on every node, replicas too: a promoted replica must already have them (a restarted node has lost them). */
const addFlags = async () => {
  for (const addr of await allNodes()) {
    await onNode(addr, async (n) => {
      const [, flags = ''] = (await n.call('CONFIG', 'GET', 'notify-keyspace-events')) as string[]
      if (!/E/.test(flags) || !/[xA]/.test(flags)) await n.call('CONFIG', 'SET', 'notify-keyspace-events', `${flags}Ex`)
    })
  }
}

const storePrefix = `test-exp-${randomBytes(4).toString('hex')}:`
/** Whether `slot` is in a node's slot ranges (`0-5460`, `5461`; importing ones `[…]` left out). */
const owns = (node: Node, slot: number) =>
  node.slots.filter((r) => !r.startsWith('[')).some((r) => {
    const [a = -1, b = a] = r.split('-').map(Number)
    return slot >= a && slot <= b
  })

/** The store, recording the Redis key of each session it commits (to tell which node holds it). */
class Recording extends RedisStore {
  readonly keys = new Map<string, string>()
  override commitIfVersion(...args: Parameters<RedisStore['commitIfVersion']>) {
    this.keys.set(sessionId(args[0]), `${storePrefix}s:${args[0]}`)
    return super.commitIfVersion(...args)
  }
}
const idOf = (redisKey: string) => sessionId(redisKey.slice(`${storePrefix}s:`.length))
/** Session keys of this file held by each primary, by address. */
const keysByPrimary = async (): Promise<Map<string, string[]>> => {
  const byNode = new Map<string, string[]>()
  for (const node of (await view()).filter(isPrimary)) {
    const keys: string[] = []
    await onNode(node.addr, async (n) => {
      let cursor = '0'
      do {
        const [next, page] = await n.scan(cursor, 'MATCH', `${storePrefix}s:*`, 'COUNT', 1000)
        cursor = next
        keys.push(...page.filter((k) => !k.endsWith(':fwd')))
      } while (cursor !== '0')
    })
    byNode.set(node.addr, keys)
  }
  return byNode
}

t.test('RedisStore(Cluster).watchExpiry: every primary reported, once; and again after a failover', async (t) => {
  await addFlags()
  const client = connect()
  t.teardown(() => client.disconnect())
  const store = new Recording(client, { prefix: storePrefix })
  t.teardown(() => store.close())
  const warnings: unknown[] = []
  const manager = new SessionManager({ store, lifetime: 3000, logger: { warn: (_m: string, err: unknown) => warnings.push(err), error() {} } })
  const expired: ExpiredEvent[] = []
  const reportedAt = new Map<string, number>()
  manager.on('expired', (e) => {
    expired.push(e)
    reportedAt.set(e.id, Date.now())
  })
  const stop = await manager.watchExpiry()
  const app = await sessionApp(t, manager)
  const create = async () => (await new Client(app.url).get('/')).body
  const times = (id: string) => expired.filter((e) => e.id === id).length

  const nodes = await view()
  const primaries = nodes.filter(isPrimary)
  t.equal(primaries.length, 3, 'three primaries')
  for (const n of nodes) {
    t.equal(await subscribers(n.addr), 1, `${n.addr} (${isPrimary(n) ? 'primary' : 'replica'}): one subscriber`)
  }

  const ids = await Promise.all(Array.from({ length: 30 }, create))
  const held = await keysByPrimary()
  const spread = [...held.values()].map((keys) => keys.length)
  t.ok(spread.filter((n) => n > 0).length >= 2, `the sessions are spread over the primaries (${spread.join(' + ')})`)
  await until('all 30 sessions reported', () => ids.every((id) => times(id) > 0), 20_000)
  await sleep(500)
  t.ok(ids.every((id) => times(id) === 1), 'each reported exactly once')
  t.match(expired.find((e) => e.id === ids[0]), { store: 'RedisStore', source: 'store' })

  // The failover: SIGKILL one primary, its replica is promoted.
  const victim = primaries[0] as Node
  const replica = nodes.find((n) => n.master === victim.id && n.flags.includes('slave'))
  t.ok(replica, `${victim.addr} has a replica`)
  const pid = Number(await onNode(victim.addr, async (n) => (await n.info('server')).match(/^process_id:(\d+)/m)?.[1]))
  t.ok(pid > 0, `primary ${victim.addr} is pid ${pid}`)
  t.teardown(upCluster) // restored even when an assertion below fails
  // Sessions created all along: which expired while nobody listened on the victim's slots.
  const { probes, stop: stopProbing } = probing(app.url, 200)
  await sleep(3500) // probes that expire during the failover
  const killedAt = Date.now()
  process.kill(pid, 'SIGKILL')
  const promoted = await until('the replica promoted', async () =>
    (await clusterNodes(replica?.addr as string)).some((n) => n.addr === replica?.addr && isPrimary(n)), 30_000)
  const promotedAt = Date.now()
  t.equal(await subscribers(replica?.addr as string), 1, 'the promoted node kept its subscriber (made while it was a replica)')

  // Sessions created from now on, some of them in the promoted node's slots: all reported.
  const after = await Promise.all(Array.from({ length: 30 }, create))
  const onPromoted = new Set(((await keysByPrimary()).get(replica?.addr as string) ?? []).map(idOf))
  const there = after.filter((id) => onPromoted.has(id))
  t.ok(there.length > 0, `${there.length} of 30 new sessions are on the promoted node`)
  await until('the sessions on the promoted node reported', () => there.every((id) => times(id) > 0), 20_000)
  await until('every new session reported', () => after.every((id) => times(id) > 0), 20_000)
  await stopProbing()
  const lateProbes = probes.filter((p) => p.at > promotedAt)
  await until('the last probes reported', () => lateProbes.every((p) => times(p.id) > 0), 15_000).catch(() => -1)
  await sleep(500)
  t.ok(after.every((id) => times(id) === 1), 'each new session reported exactly once')
  t.ok(lateProbes.every((p) => times(p.id) === 1), `probes created after the promotion: all ${lateProbes.length} reported once`)
  t.equal(new Set(expired.map((e) => e.id)).size, expired.length, 'no session reported twice in the whole run')

  // Probes whose TTL passed between the kill and the promotion: on the killed primary's
  // slots nobody expired them then; the promoted replica does, and its subscriber hears it.
  const slot = (id: string) => keySlot(store.keys.get(id) ?? '')
  const inGap = (p: { at: number }) => p.at + 3000 > killedAt && p.at + 3000 < promotedAt
  const gap = probes.filter((p) => owns(victim, slot(p.id)) && inGap(p))
  const others = probes.filter((p) => !owns(victim, slot(p.id)) && inGap(p))
  const late = gap.filter((p) => times(p.id) === 1).map((p) => reportedAt.get(p.id) ?? 0).map((at) => at - killedAt)
  t.ok(others.every((p) => times(p.id) === 1), `the ${others.length} probes of the other primaries expiring meanwhile: reported`)
  t.ok(gap.every((p) => times(p.id) === 1), `the ${gap.length} probes of the killed primary's slots expiring meanwhile: reported, by the promoted node`)
  t.comment(
    `cluster failover: ${victim.addr} SIGKILLed; ${replica?.addr} promoted after ${promoted} ms, already subscribed. ` +
      `${gap.length} probe sessions of those slots had their TTL pass meanwhile: ${late.length} reported ` +
      `${late.length > 0 ? `${Math.min(...late)}–${Math.max(...late)} ms after the kill` : ''} (late: a dead primary expires nothing), ` +
      `${gap.length - late.length} lost`,
  )

  // Restore: the killed node rejoins as a replica, without the flags (its config file has
  // none): the watch says so, then subscribes it once they are set.
  await upCluster()
  await until('the missing flags reported', () => warnings.some((e) => String(e).includes(`notify-keyspace-events of ${victim.addr}`)), 15_000)
  t.pass(`a ConfigError names ${victim.addr}, restarted without the flags`)
  await addFlags()
  const back = await until('the restarted node subscribed', async () => (await subscribers(victim.addr)) === 1, 15_000)
  t.pass(`the restarted ${victim.addr} (now a replica) is subscribed again ${back} ms after its flags are set`)
  await stop()
  for (const addr of await allNodes()) t.equal(await subscribers(addr), 0, `stop(): no subscriber left on ${addr}`)
})

t.test('RedisStore(Cluster).watchExpiry: a renewal\'s forward lapsing is not reported, a session beside it is', async (t) => {
  await addFlags()
  const client = connect()
  t.teardown(() => client.disconnect())
  const prefix = `${storePrefix}fwd:`
  const store = new RedisStore(client, { prefix })
  t.teardown(() => store.close())
  const markers = async () => {
    let n = 0
    for (const node of client.nodes('master')) n += (await node.scan('0', 'MATCH', `{${prefix}s:*}:fwd`, 'COUNT', 10_000))[1].length
    return n
  }
  await forwardNotReported(t, store, 'fwd:', markers)
})

t.test('forwardMarker: in its key\'s hash slot, as the Cluster computes it, and recognised as a marker', async (t) => {
  const { forwardMarker, isForwardMarker } = await import('../../stores/redis-forward.js')
  for (const key of ['sm:s:abc', '{app}:s:abc', 'a{}b', 'a}b', 'a{}b}c', '{', '}{', 'é{ü}x', 'x{y']) {
    const marker = forwardMarker(key)
    t.equal(Number(await admin.cluster('KEYSLOT', marker)), Number(await admin.cluster('KEYSLOT', key)), `${key} -> ${marker}: same slot`)
    t.ok(isForwardMarker(marker), `${marker} is a marker`)
    t.notOk(isForwardMarker(key), `${key} is not`)
  }
})
