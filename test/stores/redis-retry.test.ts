/**
 * RedisStore's retry window (stores/retry.ts, stores/redis-retryable.ts), against the
 * machine's Redis through a TCP proxy that drops the connection or loses a reply:
 * calls issued while the connection is gone succeed once it is back within the window
 * and fail after it; a versioned commit whose reply was lost is applied exactly once
 * and answered with its own version, not reported as a conflict.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Redis } from 'ioredis'
import { RedisStore, redisClientOptions } from '../../stores/redis.js'
import { isRetryable } from '../../stores/redis-retryable.js'
import { retrySuite, settle } from '../helpers/retry-suite.js'
import { tcpProxy } from '../helpers/tcp-proxy.js'
import { quiet, reachable } from '../helpers/service.js'

const direct = quiet(new Redis({ host: '127.0.0.1', port: 6379, ...redisClientOptions, lazyConnect: true }))
t.teardown(() => direct.disconnect())
if (!(await reachable(t, 'redis at 127.0.0.1:6379', () => direct.connect()))) process.exit()

const proxy = await tcpProxy('127.0.0.1', 6379)
t.teardown(proxy.close)
const port = Number(new URL(proxy.url).port)
const client = quiet(new Redis({ host: '127.0.0.1', port, ...redisClientOptions }))
t.teardown(() => client.disconnect())
const prefix = `test-retry-${randomBytes(4).toString('hex')}:`
t.teardown(async () => {
  const keys = await direct.keys(`${prefix}*`)
  if (keys.length > 0) await direct.del(...keys)
})
const later = () => new Date(Date.now() + 60_000)
const bytes = (s: string) => Buffer.from(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString())

retrySuite(t, 'RedisStore', {
  store: new RedisStore(client, { prefix }),
  proxy,
  stored: async (key) => (await direct.getBuffer(`${prefix}s:${key}`))?.subarray(16).toString(),
  forward: true,
})

t.test('past the window the call rejects with the last error, and the store serves again after', async (t) => {
  const store = new RedisStore(client, { prefix, retryWindow: 600 })
  await store.commit('w', bytes('x'), later())
  proxy.cut()
  const r = await settle(store.find('w'))
  proxy.restore()
  t.ok(r.error, `rejected: ${r.error?.message}`)
  t.ok(isRetryable(r.error), 'with an error the store counts as retryable')
  t.ok(r.ms >= 550 && r.ms < 3000, `after the window (${r.ms} ms)`)
  t.equal(text(await store.find('w')), 'x', 'the same client and store answer once the connection is back')
})

t.test('retryWindow: 0 never retries: calls fail as the connection fails', async (t) => {
  const store = new RedisStore(client, { prefix, retryWindow: 0 })
  await store.commit('z', bytes('x'), later())
  proxy.cut()
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i > 1 ? sleep(50 * i) : Promise.resolve()).then(() => settle(store.find('z')))))
  proxy.restore()
  const failed = results.filter((r) => r.error !== undefined)
  t.ok(failed.length > 0, `${failed.length} of 6 reads rejected: ${failed[0]?.error?.message}`)
  t.equal(text(await store.find('z')), 'x', 'served again after')
})

t.test('isRetryable: failover and connection errors yes; script, type and conflict errors no', async (t) => {
  const named = (name: string, message: string) => Object.assign(new Error(message), { name })
  const yes = [
    new Error('READONLY You can\'t write against a read only replica.'),
    new Error('LOADING Redis is loading the dataset in memory'),
    new Error('CLUSTERDOWN The cluster is down'),
    new Error('TRYAGAIN Multiple keys request during rehashing of slot'),
    new Error('MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to \'no\'.'),
    new Error('Connection is closed.'),
    new Error('Command timed out'),
    named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.'),
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6380'), { code: 'ECONNREFUSED' }),
  ]
  const no = [
    new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
    new Error('ERR Error running script'),
    new Error('NOSCRIPT No matching script'),
    Object.assign(new Error('Redis WAIT: 0 of 1 replica(s) acknowledged'), { code: 'ERR_STORE_REPLICATION' }),
    'READONLY as a string',
    null,
  ]
  for (const e of yes) t.ok(isRetryable(e), `retryable: ${(e as Error).message.slice(0, 40)}`)
  for (const e of no) t.notOk(isRetryable(e), `not retryable: ${String(e instanceof Error ? e.message : e).slice(0, 40)}`)
})

t.test('retryWindow is validated', async (t) => {
  t.throws(() => new RedisStore(client, { retryWindow: -1 }), { code: 'ERR_CONFIG', message: /retryWindow/ })
  t.throws(() => new RedisStore(client, { retryWindow: 1.5 }), { code: 'ERR_CONFIG', message: /retryWindow/ })
  t.equal(new RedisStore(client).retryWindow, 5000, 'default 5000 ms')
})
