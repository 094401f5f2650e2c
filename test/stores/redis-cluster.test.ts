/**
 * RedisStore on the Redis Cluster of scripts/up-redis-cluster.sh (REDIS_CLUSTER_NODES,
 * default 127.0.0.1:7000-7005): the conformance suite, all() across every primary,
 * and WAIT routed to the primary that owns the key.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Cluster } from 'ioredis'
import { RedisStore, clusterClientOptions } from '../../stores/redis.js'
import { storeContract } from '../store-contract.js'
import { takeTurns } from '../helpers/exclusive.js'
import { quiet, reachable } from '../helpers/service.js'

const nodes = (process.env.REDIS_CLUSTER_NODES ?? '127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002')
  .split(',')
  .map((hostPort) => {
    const [host = '127.0.0.1', port = '7000'] = hostPort.split(':')
    return { host, port: Number(port) }
  })
const cluster = quiet(new Cluster(nodes, { ...clusterClientOptions, lazyConnect: true }))
t.teardown(() => cluster.disconnect())
const probe = async () => {
  await cluster.connect()
  if ((await cluster.cluster('INFO')).includes('cluster_state:ok') === false) throw new Error('cluster_state is not ok')
}
if (!(await reachable(t, `the Redis Cluster at ${nodes.map((n) => `${n.host}:${n.port}`).join(',')}`, probe))) process.exit()
// redis-expiry-cluster.test.ts kills a primary: not while this file counts on all three.
await takeTurns(t, 'redis-cluster')

const prefix = `test-${randomBytes(4).toString('hex')}:`
const later = (ms = 60_000) => new Date(Date.now() + ms)

storeContract(t, { name: 'RedisStore(Cluster)', make: () => new RedisStore(cluster, { prefix }) })

t.test('RedisStore(Cluster).all scans every primary', async (t) => {
  const store = new RedisStore(cluster, { prefix })
  const keys = Array.from({ length: 60 }, (_, i) => `spread:${i}`)
  await Promise.all(keys.map((k) => store.commit(k, Buffer.from(k), later())))
  const masters = cluster.nodes('master')
  t.equal(masters.length, 3, 'three primaries')
  const held = await Promise.all(
    masters.map(async (node) => (await node.scan('0', 'MATCH', `${prefix}s:spread:*`, 'COUNT', 1000))[1].length),
  )
  t.ok(held.filter((n) => n > 0).length >= 2, `the keys are spread over the primaries (${held.join(' + ')})`)
  const seen = new Map<string, string>()
  for await (const [key, data] of store.all('spread:')) seen.set(key, Buffer.from(data).toString())
  t.equal(seen.size, 60, 'every key, once')
  t.ok(keys.every((k) => seen.get(k) === k), 'with its data')
})

t.test('RedisStore(Cluster) with waitReplicas: WAIT goes to the owner of the key', async (t) => {
  const store = new RedisStore(cluster, { prefix, waitReplicas: 1, waitTimeout: 2000 })
  // Keys in many slots, so every primary (each with one replica) is asked.
  for (let i = 0; i < 12; i++) {
    const v = await store.commitIfVersion(`w:${i}`, Buffer.from('x'), later(), undefined)
    t.type(v, 'string', `commit ${i} acknowledged by a replica`)
  }
  await store.delete('w:0')
  t.equal(await store.find('w:0'), undefined, 'delete with WAIT')
  const greedy = new RedisStore(cluster, { prefix, waitReplicas: 2, waitTimeout: 200 })
  await t.rejects(greedy.commit('w:greedy', Buffer.from('x'), later()), /1 of 2 replica/, 'more replicas than exist: rejects')
})

t.test('RedisStore(Cluster) batches: one pipeline per primary, slots as Redis computes them', async (t) => {
  const { keySlot } = await import('../../stores/redis-batch.js')
  // CLUSTER KEYSLOT is the server's own answer; hash tags included.
  for (const k of ['plain', '{user1000}.following', 'foo{}{bar}', 'foo{{bar}}zap', 'foo{bar}{zap}', 'é{ü}', '{', '}{']) {
    t.equal(keySlot(k), Number(await cluster.cluster('KEYSLOT', k)), `slot of ${k}`)
  }
  const store = new RedisStore(cluster, { prefix })
  const keys = Array.from({ length: 1000 }, (_, i) => `batch:${i}`)
  for (let i = 0; i < keys.length; i += 200) await Promise.all(keys.slice(i, i + 200).map((k) => store.commit(k, Buffer.from(k), later())))
  const original = cluster.pipeline.bind(cluster)
  let pipelines = 0
  cluster.pipeline = ((...args: Parameters<typeof original>) => {
    pipelines++
    return original(...args)
  }) as typeof cluster.pipeline
  try {
    const found = await store.findMany(keys)
    t.equal(found.filter(Boolean).length, 1000)
    t.equal(pipelines, 3, 'findMany of 1,000 keys: 3 pipelines, one per primary')
    pipelines = 0
    await store.deleteMany(keys, 'batch-user')
    t.equal(pipelines, 3, 'deleteMany of 1,000 keys and their index members: 3 pipelines')
  } finally {
    cluster.pipeline = original
  }
  t.equal((await store.findMany(keys)).filter(Boolean).length, 0, 'all deleted')
})
