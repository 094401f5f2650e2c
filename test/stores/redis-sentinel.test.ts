/**
 * RedisStore through Sentinel (scripts/up-redis-sentinel.sh; REDIS_SENTINELS, default
 * 127.0.0.1:26380-26382, master name "sessions"): the conformance suite, then a
 * failover under load over real HTTP. The current primary (asked of Sentinel: an
 * earlier run leaves the roles swapped) is SIGKILLed by its pid while browsers write
 * sessions with `waitReplicas: 1`; the test measures how long until commits succeed
 * again, checks that no acknowledged write is lost, and restarts the killed node as a
 * replica through the up script so the group is healthy for the next run.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t from 'tap'
import { Redis } from 'ioredis'
import { SessionManager } from '../../lib/index.js'
import { RedisStore, sentinelClientOptions } from '../../stores/redis.js'
import { storeContract } from '../store-contract.js'
import { Client, counterApp, listen } from '../helpers/http.js'
import { takeTurns } from '../helpers/exclusive.js'
import { quiet, reachable } from '../helpers/service.js'

const sentinels = (process.env.REDIS_SENTINELS ?? '127.0.0.1:26380,127.0.0.1:26381,127.0.0.1:26382')
  .split(',')
  .map((hostPort) => {
    const [host = '127.0.0.1', port = '26380'] = hostPort.split(':')
    return { host, port: Number(port) }
  })
const name = process.env.REDIS_SENTINEL_NAME ?? 'sessions'
const client = quiet(new Redis({ sentinels, name, ...sentinelClientOptions, lazyConnect: true }))
t.teardown(() => client.disconnect())
if (!(await reachable(t, `Redis Sentinel at ${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`, () => client.connect()))) {
  process.exit()
}
// This file and redis-expiry-sentinel.test.ts kill the primary: one at a time.
await takeTurns(t, 'redis-sentinel')

const upSentinel = () =>
  promisify(execFile)('bash', ['scripts/up-redis-sentinel.sh'], { cwd: new URL('../..', import.meta.url).pathname })
const primaryPort = async () => {
  for (const s of sentinels) {
    const admin = quiet(new Redis({ ...s, lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null }))
    try {
      await admin.connect()
      const addr = (await admin.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string]
      return Number(addr[1])
    } catch {
      // try the next sentinel
    } finally {
      admin.disconnect()
    }
  }
  throw new Error('no sentinel answered')
}
const info = async (port: number, section: string, field: string) => {
  const node = quiet(new Redis({ port, host: '127.0.0.1', connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null }))
  try {
    return (await node.info(section)).match(new RegExp(`^${field}:(.*)$`, 'm'))?.[1]?.trim()
  } finally {
    node.disconnect()
  }
}
/** Poll `check` every 50 ms until true: the ms it took, or -1 after `limit` ms. */
const until = async (check: () => Promise<boolean>, limit: number) => {
  const begin = Date.now()
  while (Date.now() - begin < limit) {
    if (await check().catch(() => false)) return Date.now() - begin
    await sleep(50)
  }
  return -1
}
const prefix = `test-${randomBytes(4).toString('hex')}:`
const later = () => new Date(Date.now() + 300_000)

storeContract(t, { name: 'RedisStore(Sentinel)', make: () => new RedisStore(client, { prefix }) })

t.test('RedisStore(Sentinel).deleteMany with waitReplicas: WAIT ends the batch, a shortfall rejects', async (t) => {
  await upSentinel()
  const keys = Array.from({ length: 600 }, (_, i) => `wait-batch:${i}`)
  const plain = new RedisStore(client, { prefix })
  await Promise.all(keys.map((k) => plain.commit(k, Buffer.from(k), later())))
  await Promise.all(keys.map((k) => plain.addToUser('wait-user', k, later())))
  const own = quiet(new Redis({ sentinels, name, ...sentinelClientOptions }))
  t.teardown(() => own.disconnect())
  await new RedisStore(own, { prefix, waitReplicas: 1, waitTimeout: 2000 }).deleteMany(keys.slice(0, 300), 'wait-user')
  t.equal((await plain.findMany(keys)).filter(Boolean).length, 300, 'acknowledged by the replica: deleted')
  t.equal((await plain.listUser('wait-user')).length, 300)
  const greedy = new RedisStore(own, { prefix, waitReplicas: 5, waitTimeout: 100 })
  await t.rejects(greedy.deleteMany(keys.slice(300), 'wait-user'), /WAIT: \d of 5 replica/, 'fewer replicas than asked: rejects')
})

t.test('RedisStore(Sentinel) waitReplicas with the replica stopped: reads are served at once, writes fail within 2 × waitTimeout, then succeed again', async (t) => {
  await upSentinel()
  const primary = await primaryPort()
  const replica = Number(/^slave0:.*port=(\d+)/m.exec(await info(primary, 'replication', 'slave0').then((v) => `slave0:${v ?? ''}`))?.[1])
  t.ok(replica > 0, `the replica of 127.0.0.1:${primary} is 127.0.0.1:${replica}`)
  const pid = Number(await info(replica, 'server', 'process_id'))
  const own = quiet(new Redis({ sentinels, name, ...sentinelClientOptions }))
  const store = new RedisStore(own, { prefix, waitReplicas: 1, waitTimeout: 500 })
  t.teardown(async () => {
    process.kill(pid, 'SIGCONT')
    await store.close()
    own.disconnect()
  })
  const data = Buffer.from('durable')
  await store.commit('stall:seed', data, later())
  process.kill(pid, 'SIGSTOP') // the replica stops acknowledging; Sentinel has no reason to fail over
  const timed = async <T>(p: Promise<T>) => {
    const begin = Date.now()
    try {
      return { ms: Date.now() - begin, value: await p, ms2: Date.now() - begin }
    } catch (err) {
      return { ms: 0, error: err as { code?: string }, ms2: Date.now() - begin }
    }
  }
  const writes = Array.from({ length: 40 }, (_, i) => timed(store.commit(`stall:${i}`, data, later())))
  await sleep(50) // the writes are on their way, their WAITs blocking
  const reads = await Promise.all(Array.from({ length: 40 }, () => timed(store.find('stall:seed'))))
  const slowRead = Math.max(...reads.map((r) => r.ms2))
  t.ok(reads.every((r) => r.value !== undefined && Buffer.from(r.value).equals(data)), 'every read answered with the data')
  t.ok(slowRead < 250, `reads are not held behind the writes' WAIT (slowest ${slowRead} ms)`)
  const done = await Promise.all(writes)
  t.ok(done.every((w) => w.error?.code === 'ERR_STORE_REPLICATION'), 'every write fails with ERR_STORE_REPLICATION')
  const slowWrite = Math.max(...done.map((w) => w.ms2))
  t.ok(slowWrite <= 2 * 500 + 400, `each within 2 × waitTimeout (slowest ${slowWrite} ms for 40 writes)`)
  process.kill(pid, 'SIGCONT')
  const back = await until(async () => {
    await store.commit('stall:after', data, later())
    return true
  }, 10_000)
  t.ok(back >= 0, `writes succeed again once the replica is back (${back} ms)`)
})

t.test('RedisStore(Sentinel) survives a SIGKILLed primary without losing acknowledged writes', async (t) => {
  await upSentinel() // an earlier run may have left the killed node still rejoining
  const safe = new RedisStore(client, { prefix, waitReplicas: 1, waitTimeout: 1000 })
  // A client of its own: WAIT blocks the connection it is sent on, and with no replica
  // every command queued behind it would wait as well.
  const other = quiet(new Redis({ sentinels, name, ...sentinelClientOptions }))
  t.teardown(() => other.disconnect())
  const fast = new RedisStore(other, { prefix })
  const silent = { warn() {}, error() {} }
  const app = (store: RedisStore) => {
    const manager = new SessionManager({ store, storeTimeout: 4000, logger: silent })
    return listen(counterApp(manager, String))
  }
  const [safeApp, fastApp] = await Promise.all([app(safe), app(fast)])
  t.teardown(() => Promise.all([safeApp.close(), fastApp.close()]))

  // Browsers writing their sessions through the waitReplicas app; a 200 is an acknowledgement.
  const browsers = Array.from({ length: 8 }, () => ({ client: new Client(safeApp.url), acked: 0 }))
  let stop = false
  let failed = 0
  let slowest = 0
  const load = browsers.map(async (b) => {
    while (!stop) {
      const begin = Date.now()
      const reply = await b.client.get('/put').catch(() => undefined)
      slowest = Math.max(slowest, Date.now() - begin)
      if (reply?.status === 200) b.acked = Number(reply.body)
      else failed++
      await sleep(20)
    }
  })
  await sleep(1000)
  const old = await primaryPort()
  const pid = Number(await info(old, 'server', 'process_id'))
  t.ok(pid > 0, `primary 127.0.0.1:${old} is pid ${pid}`)
  const killedAt = Date.now()
  process.kill(pid, 'SIGKILL')

  // Recovery without a replica to wait for: plain commits and HTTP requests of the app without WAIT.
  const store = await until(() => fast.commit(`${prefix}probe`, Buffer.from('x'), later()).then(() => true), 30_000)
  const fresh = new Client(fastApp.url)
  const http = await until(async () => (await fresh.get('/put')).status === 200, 30_000)
  const promoted = await primaryPort()
  t.ok(store > 0, `commits succeed again ${store} ms after the SIGKILL`)
  t.ok(http > 0, `HTTP requests succeed again ${store + http} ms after it`)
  t.not(promoted, old, `Sentinel promoted 127.0.0.1:${promoted}`)

  // waitReplicas: 1 needs a replica again: the up script restarts the killed node as one.
  const restartAt = Date.now()
  await upSentinel()
  t.equal(await info(old, 'replication', 'role'), 'slave', `the killed node rejoined as a replica (${Date.now() - restartAt} ms)`)
  const safeBack = await until(async () => (await new Client(safeApp.url).get('/put')).status === 200, 30_000)
  const acknowledged = Date.now() - killedAt
  t.ok(safeBack >= 0, `waitReplicas commits succeed again ${acknowledged} ms after the SIGKILL`)
  await sleep(500)
  stop = true
  await Promise.all(load)

  const reads = await Promise.all(browsers.map(async (b) => Number((await b.client.get('/')).body)))
  const lost = browsers.filter((b, i) => (reads[i] ?? -1) < b.acked).length
  const total = browsers.reduce((sum, b) => sum + b.acked, 0)
  t.ok(total > 50, `the load ran: ${total} acknowledged writes`)
  t.equal(lost, 0, 'every acknowledged write is readable on the new primary')
  t.ok(slowest < 6000, `no request took longer than ${slowest} ms (storeTimeout 4000)`)
  console.log(
    `# redis sentinel failover: primary ${old} SIGKILLed, ${promoted} promoted; plain commits back after ${store} ms, ` +
      `HTTP after ${store + http} ms; with waitReplicas: 1 after ${acknowledged} ms (node restarted as replica); ` +
      `${total} acknowledged writes, 0 lost, ${failed} failed requests, slowest ${slowest} ms`,
  )
})
