/**
 * RedisStore.watchExpiry through SessionManager.watchExpiry against the real Redis:
 * sessions created over HTTP that expire while nobody requests them are reported as
 * `expired` (source 'store'), and reporting resumes after the subscriber connection is
 * killed (CLIENT KILL ID, only that connection). Expirations while it is down are lost:
 * Redis pub/sub is at-most-once.
 */
import t from 'tap'
import { Redis } from 'ioredis'
import { type ExpiredEvent, SessionManager } from '../../lib/index.js'
import { RedisStore } from '../../stores/redis.js'
import { forwardNotReported } from '../helpers/expiry.js'
import { Client, listen } from '../helpers/http.js'
import { quiet, reachable } from '../helpers/service.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const name = `redis-expiry-test-${process.pid}`
const admin = quiet(new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 }))
if (!(await reachable(t, `redis at ${url}`, () => admin.connect()))) process.exit()
t.teardown(() => admin.quit())
// Adding the flags is harmless to other users of this server (removing them would not be).
const [, flags = ''] = (await admin.call('CONFIG', 'GET', 'notify-keyspace-events')) as string[]
if (!/E/.test(flags) || !/[xA]/.test(flags)) await admin.call('CONFIG', 'SET', 'notify-keyspace-events', `${flags}Ex`)

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 8000) => {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Ids of the pub/sub connections carrying this test's connection name. */
const subscribers = async () =>
  String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n')
    .filter((line) => line.includes(` name=${name} `)).map((line) => /id=(\d+)/.exec(line)?.[1] ?? '')

t.test('SessionManager.watchExpiry: expired sessions reported by Redis, and again after the subscriber is killed', async (t) => {
  // The subscriber is a duplicate of this client: it inherits the name and the 1.5 s reconnect delay.
  const client = quiet(new Redis(url, { connectionName: name, maxRetriesPerRequest: 1, retryStrategy: () => 1500 }))
  const store = new RedisStore(client, { prefix: `test:redis-expiry:${process.pid}:` })
  const manager = new SessionManager({ store, lifetime: 1000 })
  const expired: ExpiredEvent[] = []
  manager.on('expired', (e) => expired.push(e))
  const stop = await manager.watchExpiry()
  const server = await listen(manager.loadAndSave((req, res) => {
    manager.put(req, 'n', 1)
    manager.token(req)
    res.end(manager.sessionId(req))
  }))
  t.teardown(async () => {
    await stop()
    await store.close()
    await server.close()
    client.disconnect()
  })
  const create = async () => (await new Client(server.url).get('/')).body
  t.match(await admin.call('CONFIG', 'GET', 'notify-keyspace-events'), ['notify-keyspace-events', /E.*x|x.*E|A/])

  const a = await create()
  await until('the first expiry', () => expired.some((e) => e.id === a))
  t.match(expired.find((e) => e.id === a), { store: 'RedisStore', id: a, source: 'store' })

  const [id] = await subscribers()
  t.ok(id, 'the subscriber connection is found by its name')
  await admin.call('CLIENT', 'KILL', 'ID', id as string)
  const b = await create()
  await new Promise((r) => setTimeout(r, 1200)) // b expires while the subscriber is down
  await until('the subscriber to reconnect', async () => (await subscribers()).length === 1)
  await new Promise((r) => setTimeout(r, 200))
  const c = await create()
  await until('an expiry after the reconnect', () => expired.some((e) => e.id === c))
  t.pass('reported again after reconnecting')
  t.comment(`expired while disconnected: ${expired.some((e) => e.id === b) ? 'reported (Redis removed it after the reconnect)' : 'lost (pub/sub is at-most-once)'}`)
  t.equal(new Set(expired.map((e) => e.id)).size, expired.length, 'no session reported twice')

  await stop()
  t.same(await subscribers(), [], 'stop() ends the subscriber connection')
})

t.test('RedisStore.watchExpiry: a renewal\'s forward lapsing is not reported, a session expiring alongside is', async (t) => {
  const client = quiet(new Redis(url, { maxRetriesPerRequest: 1 }))
  const storePrefix = `test:redis-expiry-fwd:${process.pid}:`
  const store = new RedisStore(client, { prefix: storePrefix })
  t.teardown(async () => {
    await store.close()
    client.disconnect()
  })
  const markers = async () => (await admin.keys(`{${storePrefix}s:*}:fwd`)).length
  await forwardNotReported(t, store, 'fwd:', markers)
})

t.test('SessionManager.watchExpiry: without the flags refused with a ConfigError; with configure: true the store sets them', async (t) => {
  // Only this file needs the flags on this server; they are put back as they were.
  const [, was = ''] = (await admin.call('CONFIG', 'GET', 'notify-keyspace-events')) as string[]
  t.teardown(() => admin.call('CONFIG', 'SET', 'notify-keyspace-events', was))
  await admin.call('CONFIG', 'SET', 'notify-keyspace-events', '')
  const client = quiet(new Redis(url, { maxRetriesPerRequest: 1 }))
  const store = new RedisStore(client, { prefix: `test:redis-expiry-cfg:${process.pid}:` })
  t.teardown(async () => {
    await store.close()
    client.disconnect()
  })
  const manager = new SessionManager({ store })
  await t.rejects(manager.watchExpiry(), { name: 'ConfigError', message: /notify-keyspace-events/ }, 'refused while the server lacks the flags')
  t.same((await admin.call('CONFIG', 'GET', 'notify-keyspace-events')) as string[], ['notify-keyspace-events', ''], 'and the server configuration is untouched')
  const stop = await manager.watchExpiry({ configure: true })
  const [, now = ''] = (await admin.call('CONFIG', 'GET', 'notify-keyspace-events')) as string[]
  t.ok(/E/.test(now) && /[xA]/.test(now), `configure: true added the flags (${now})`)
  await stop()
})

t.test('SessionManager.watchExpiry: a store without it is refused with ERR_UNSUPPORTED', async (t) => {
  await t.rejects(new SessionManager().watchExpiry(), { code: 'ERR_UNSUPPORTED' })
})
