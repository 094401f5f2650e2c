/**
 * RedisStore.watchExpiry on a Sentinel-configured client (scripts/up-redis-sentinel.sh;
 * REDIS_SENTINELS, default 127.0.0.1:26380-26382, master name "sessions"), through
 * SessionManager.watchExpiry over real HTTP: sessions are reported; the primary is
 * SIGKILLed (taking turns with redis-sentinel.test.ts), Sentinel promotes the replica,
 * the subscriber (a `duplicate()` of the client) reconnects through the sentinels to
 * it, and sessions expiring there are reported. The replica starts without the
 * notify-keyspace-events flags: a second watch with `configure: true` sets them on the
 * new primary after its reconnect. Expiries between the kill and the resubscription
 * may be lost (pub/sub is at-most-once): the test reports how many.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t from 'tap'
import { Redis } from 'ioredis'
import { type ExpiredEvent, SessionManager } from '../../lib/index.js'
import { RedisStore, sentinelClientOptions } from '../../stores/redis.js'
import { takeTurns } from '../helpers/exclusive.js'
import { onNode } from '../helpers/redis-nodes.js'
import { probing, sessionApp, until } from '../helpers/expiry.js'
import { Client } from '../helpers/http.js'
import { quiet, reachable } from '../helpers/service.js'

const sentinels = (process.env.REDIS_SENTINELS ?? '127.0.0.1:26380,127.0.0.1:26381,127.0.0.1:26382')
  .split(',')
  .map((hostPort) => {
    const [host = '127.0.0.1', port = '26380'] = hostPort.split(':')
    return { host, port: Number(port) }
  })
const master = process.env.REDIS_SENTINEL_NAME ?? 'sessions'
const name = `redis-expiry-sentinel-${process.pid}`
const connect = (lazyConnect = false) =>
  quiet(new Redis({ sentinels, name: master, ...sentinelClientOptions, connectionName: name, lazyConnect }))
const probe = connect(true)
t.teardown(() => probe.disconnect())
if (!(await reachable(t, `Redis Sentinel at ${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`, () => probe.connect()))) {
  process.exit()
}
await takeTurns(t, 'redis-sentinel')
const upSentinel = () =>
  promisify(execFile)('bash', ['scripts/up-redis-sentinel.sh'], { cwd: new URL('../..', import.meta.url).pathname })
await upSentinel() // an earlier run may have left the killed node still rejoining

const primaryPort = async () => {
  for (const s of sentinels) {
    const admin = quiet(new Redis({ ...s, lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null }))
    try {
      await admin.connect()
      return Number(((await admin.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', master)) as [string, string])[1])
    } catch {
      // the next sentinel
    } finally {
      admin.disconnect()
    }
  }
  throw new Error('no sentinel answered')
}
const flagsOf = async (port: number) => ((await onNode(port, (n) => n.call('CONFIG', 'GET', 'notify-keyspace-events'))) as string[])[1] ?? ''
const hasFlags = (flags: string) => /E/.test(flags) && /[xA]/.test(flags)
/** Pub/sub connections of this file on the data node at `port`. */
const subscribers = async (port: number) =>
  String(await onNode(port, (n) => n.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))).split('\n').filter((l) => l.includes(` name=${name} `)).length

t.test('RedisStore(Sentinel).watchExpiry: reported, and again on the new primary after a failover', async (t) => {
  const old = await primaryPort()
  const replica = old === 6380 ? 6381 : 6380
  const flags = await flagsOf(old)
  if (!hasFlags(flags)) await onNode(old, (n) => n.call('CONFIG', 'SET', 'notify-keyspace-events', `${flags}Ex`))
  // The replica without the flags, as a node fresh from its config file would be.
  await onNode(replica, (n) => n.call('CONFIG', 'SET', 'notify-keyspace-events', ''))

  const client = connect()
  t.teardown(() => client.disconnect())
  const storePrefix = `test-exp-s-${randomBytes(4).toString('hex')}:`
  const store = new RedisStore(client, { prefix: storePrefix })
  t.teardown(() => store.close())
  const errors: unknown[] = []
  const manager = new SessionManager({ store, lifetime: 1500, logger: { warn: (_m: string, err: unknown) => errors.push(err), error() {} } })
  const expired: ExpiredEvent[] = []
  manager.on('expired', (e) => expired.push(e))
  const stop = await manager.watchExpiry()
  // A watch that sets missing flags, here on the promoted replica once it reconnects there.
  const stopConfiguring = await store.watchExpiry('none:', () => {}, { configure: true })
  const app = await sessionApp(t, manager)
  const create = async () => (await new Client(app.url).get('/')).body
  const times = (id: string) => expired.filter((e) => e.id === id).length

  t.equal(await subscribers(old), 2, `both watches subscribed on the primary ${old}`)
  const ids = await Promise.all(Array.from({ length: 10 }, create))
  await until('10 sessions reported', () => ids.every((id) => times(id) > 0), 15_000)

  const { probes, stop: stopProbing } = probing(app.url, 100)
  await sleep(2000)
  const pid = Number(await onNode(old, async (n) => (await n.info('server')).match(/^process_id:(\d+)/m)?.[1]))
  t.ok(pid > 0, `primary ${old} is pid ${pid}`)
  t.teardown(upSentinel) // restored even when an assertion below fails
  const killedAt = Date.now()
  process.kill(pid, 'SIGKILL')
  const promoted = await until('Sentinel to promote the replica', async () => (await primaryPort()) === replica, 30_000)
  await until('both subscribers to reconnect to the new primary', async () => (await subscribers(replica)) === 2, 30_000)
  const subscribedAt = Date.now()
  await until('the configuring watch to set the flags there', async () => hasFlags(await flagsOf(replica)), 10_000)
  const flaggedAt = Date.now()
  t.pass(`promoted after ${promoted} ms, resubscribed after ${subscribedAt - killedAt} ms, flags set after ${flaggedAt - killedAt} ms`)

  const after = await Promise.all(Array.from({ length: 10 }, create))
  await until('the sessions on the new primary reported', () => after.every((id) => times(id) > 0), 15_000)
  await stopProbing()
  const lateProbes = probes.filter((p) => p.at > flaggedAt)
  await until('the last probes reported', () => lateProbes.every((p) => times(p.id) > 0), 15_000).catch(() => -1)
  await sleep(500)
  t.ok(ids.every((id) => times(id) === 1) && after.every((id) => times(id) === 1), 'each reported exactly once, before and after')
  t.ok(lateProbes.every((p) => times(p.id) === 1), `probes created once the new primary had the flags: all ${lateProbes.length} reported`)
  t.equal(new Set(expired.map((e) => e.id)).size, expired.length, 'no session reported twice')
  const gap = probes.filter((p) => p.at + 1500 > killedAt && p.at + 1500 < flaggedAt)
  const lost = gap.filter((p) => times(p.id) === 0)
  t.comment(
    `sentinel failover: ${old} SIGKILLed, ${replica} promoted after ${promoted} ms; the subscriber reconnected through the ` +
      `sentinels after ${subscribedAt - killedAt} ms, the new primary had the flags after ${flaggedAt - killedAt} ms. Of the ` +
      `${gap.length} probe sessions whose expiry fell in that gap, ${gap.length - lost.length} were reported (expired by the new ` +
      `primary once it published) and ${lost.length} lost (expired with nobody subscribed or no flags: pub/sub is at-most-once)`,
  )

  await upSentinel()
  t.equal(await subscribers(old), 0, `the restarted ${old} (now a replica) has no subscriber`)
  await stop()
  await stopConfiguring()
  t.equal(await subscribers(replica), 0, 'stop(): no subscriber left')
})
