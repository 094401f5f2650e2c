/**
 * One session, any framework: a node http, an Express, a Fastify, a Koa, a Fetch-handler
 * and a Hono app — each
 * with its own manager and its own Redis connection, as separate processes would have
 * — share one Redis (REDIS_URL, default redis://127.0.0.1:6379) with the same prefix
 * and see the same session through the same cookie.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { SessionManager } from '../../lib/index.js'
import { RedisStore, redisClientOptions } from '../../stores/redis.js'
import { Client } from '../helpers/http.js'
import { reachable } from '../helpers/service.js'
import { apps } from './helpers/apps.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const probe = new Redis(url, { ...redisClientOptions, lazyConnect: true })
t.teardown(() => probe.quit())
if (!(await reachable(t, `Redis at ${url}`, () => probe.connect()))) process.exit()

const storePrefix = `test-mw-${randomBytes(4).toString('hex')}:`
t.teardown(async () => {
  const keys = await probe.keys(`${storePrefix}*`)
  if (keys.length > 0) await probe.unlink(...keys)
})

type Name = keyof typeof apps
const names = Object.keys(apps) as Name[]

/** A path on one of the apps. */
type To = Record<Name, { get(path: string, init?: RequestInit): ReturnType<Client['get']> }>

/**
 * The apps, each on its own connection, one manager prefix, and one browser:
 * cookies are per host, not per port, so one jar serves all the loopback origins.
 */
async function cluster(t: Test, prefix = 'shared:') {
  const browser = new Client('')
  const clients = {} as To
  for (const name of names) {
    const redis = new Redis(url, redisClientOptions)
    t.teardown(() => redis.quit())
    const manager = new SessionManager({ store: new RedisStore(redis, { prefix: storePrefix }), prefix })
    const app = await apps[name]({ manager, errors: [] })
    t.teardown(app.close)
    clients[name] = { get: (path, init) => browser.get(app.url + path, init) }
  }
  return { clients, jar: browser.jar }
}

t.test('a value put through one framework is read through every other, same cookie', async (t) => {
  const { clients, jar } = await cluster(t)
  const first = await clients.express.get('/put?k=from&v=express')
  t.equal(first.setCookies.length, 1)
  const token = jar.get('session')
  t.match(token, /^[A-Za-z0-9_-]{43}$/)
  for (const name of names) {
    t.equal((await clients[name].get('/get?k=from')).body, 'express', `${name} reads it`)
  }
  for (const name of names) {
    const reply = await clients[name].get('/put')
    t.equal(reply.status, 200)
    t.equal(jar.get('session'), token, `${name} writes under the same cookie`)
  }
  for (const name of names) {
    t.equal((await clients[name].get('/')).body, `n=${names.length}`, `${name} sees all ${names.length} writes`)
  }
})

t.test('renewToken and destroy in one framework hold in all of them', async (t) => {
  const { clients, jar } = await cluster(t)
  await clients.koa.get('/put')
  const old = jar.get('session') ?? ''
  await clients.fastify.get('/renew')
  const renewed = jar.get('session') ?? ''
  t.not(renewed, old)
  for (const name of names) {
    t.equal((await clients[name].get('/')).body, 'n=1', `${name} reads the renewed session`)
    const stale = await clients[name].get('/', { headers: { cookie: `session=${old}` } })
    t.equal(stale.body, 'n=0', `${name}: the old token is no session`)
  }
  const destroyed = await clients.node.get('/destroy')
  t.match(destroyed.setCookies[0], /Max-Age=0/)
  for (const name of names) {
    const gone = await clients[name].get('/', { headers: { cookie: `session=${renewed}` } })
    t.equal(gone.body, 'n=0', `${name}: destroyed`)
  }
})

t.test('40 concurrent writes spread over all the apps: none lost', async (t) => {
  const { clients } = await cluster(t)
  await clients.node.get('/put?k=start')
  const replies = await Promise.all(
    Array.from({ length: 40 }, (_, i) => clients[names[i % names.length] as Name].get(`/put?k=k${i}`)),
  )
  t.ok(replies.every((r) => r.status === 200), 'all answered 200')
  const keys = JSON.parse((await clients.express.get('/keys')).body) as string[]
  t.equal(keys.filter((k) => /^k\d+$/.test(k)).length, 40, '40 of 40 keys kept across the apps')
  t.ok(keys.includes('start'))
})

t.test('a manager with another prefix never sees the session', async (t) => {
  const shared = await cluster(t, 'shared:')
  const other = await cluster(t, 'other:')
  await shared.clients.express.get('/put?k=secret&v=1')
  const reply = await other.clients.fastify.get('/get?k=secret', {
    headers: { cookie: `session=${shared.jar.get('session')}` },
  })
  t.equal(reply.body, '', 'same token, other prefix: no session')
})
