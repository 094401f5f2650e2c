/**
 * The compatible `request.session` (sessionPlugin with `compat: true`) under the real,
 * unchanged @fastify/passport + passport-local + @fastify/flash, over real HTTP with a
 * cookie jar, on memory and on Redis: login, protected page, logout, flash, session
 * fixation (new token at login, the pre-login token dead), and @fastify/session's
 * get/set/delete/regenerate/destroy.
 */
import { randomBytes } from 'node:crypto'
import formbody from '@fastify/formbody'
import { Authenticator } from '@fastify/passport'
import Fastify from 'fastify'
import { Strategy as LocalStrategy } from 'passport-local'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { SessionManager, type Store } from '../../lib/index.js'
import { sessionPlugin } from '../../middleware/fastify.js'
import { MemoryStore } from '../../stores/memory.js'
import { RedisStore, redisClientOptions } from '../../stores/redis.js'
import { Client } from '../helpers/http.js'
import { reachable } from '../helpers/service.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const redis = new Redis(url, { ...redisClientOptions, lazyConnect: true })
t.teardown(() => redis.disconnect())
const prefix = `test-compat-passport-fastify-${randomBytes(4).toString('hex')}:`
t.teardown(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.unlink(...keys)
})

type S = { get(k: string): unknown; set(k: string, v: unknown): void; delete(k?: string): unknown; regenerate(keys?: string[]): Promise<void>; destroy(): Promise<void> }

async function start(t: Test, store: Store) {
  const manager = new SessionManager({ store, logger: { warn() {}, error() {} } })
  const app = Fastify()
  await app.register(sessionPlugin, { manager, compat: true })
  await app.register(formbody)
  const auth = new Authenticator()
  auth.use('local', new LocalStrategy((username, password, done) => done(null, username === 'ada' && password === 'pw' ? { id: 'u1' } : false, { message: 'bad login' })))
  auth.registerUserSerializer(async (user: { id: string }) => user.id)
  auth.registerUserDeserializer(async (id: string) => (id === 'u1' ? { id } : null))
  await app.register(auth.initialize())
  await app.register(auth.secureSession())
  app.post('/login', { preValidation: auth.authenticate('local', { failureRedirect: '/login', failureFlash: 'bad login' }) }, async (_req, reply) => reply.redirect('/private'))
  app.get('/login', async (_req, reply) => `login page ${JSON.stringify(reply.flash('error'))}`)
  app.get('/private', async (req, reply) => (req.isAuthenticated() ? `hello ${(req.user as { id: string }).id}` : reply.code(401).send('no')))
  app.post('/logout', async (req, reply) => {
    await req.logout()
    return reply.redirect('/')
  })
  const session = (req: unknown) => (req as { session: S }).session
  app.post('/set', async (req) => {
    session(req).set('a', { n: 1 })
    session(req).set('b', 'x')
    return 'ok'
  })
  app.get('/get', async (req) => JSON.stringify([session(req).get('a'), session(req).get('b') ?? null]))
  app.post('/del', async (req) => {
    session(req).delete('b')
    return 'ok'
  })
  app.post('/regen', async (req) => {
    await session(req).regenerate(['a'])
    return 'ok'
  })
  app.post('/destroy', async (req) => {
    await session(req).destroy()
    return 'ok'
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address() as { port: number }
  return new Client(`http://127.0.0.1:${address.port}`)
}

const form = (body: string): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })

function suite(name: string, make: () => Store) {
  t.test(`${name}: @fastify/passport login, protected page, logout; fixation`, async (t) => {
    const client = await start(t, make())
    t.equal((await client.get('/private')).status, 401)
    await client.request('/set', { method: 'POST' })
    const before = client.jar.get('session') as string
    t.ok(before)
    const login = await client.request('/login', form('username=ada&password=pw'))
    t.equal(login.status, 302)
    t.equal(login.headers.get('location'), '/private')
    t.not(client.jar.get('session'), before, 'new token at login')
    t.equal((await client.get('/private')).body, 'hello u1')
    const attacker = new Client(client.base)
    attacker.jar.set('session', before)
    t.equal((await attacker.get('/private')).status, 401, 'the pre-login token is dead')
    t.equal((await attacker.get('/get')).body, '[null,null]')
    t.equal((await client.request('/logout', { method: 'POST' })).status, 302)
    t.equal((await client.get('/private')).status, 401, 'logged out')
  })

  t.test(`${name}: @fastify/flash through request.session.get/set`, async (t) => {
    const client = await start(t, make())
    const bad = await client.request('/login', form('username=ada&password=no'))
    t.equal(bad.headers.get('location'), '/login')
    t.equal((await client.get('/login')).body, 'login page ["bad login"]')
    t.equal((await client.get('/login')).body, 'login page []')
  })

  t.test(`${name}: request.session get/set/delete/regenerate/destroy`, async (t) => {
    const client = await start(t, make())
    await client.request('/set', { method: 'POST' })
    t.equal((await client.get('/get')).body, '[{"n":1},"x"]')
    await client.request('/del', { method: 'POST' })
    t.equal((await client.get('/get')).body, '[{"n":1},null]')
    await client.request('/set', { method: 'POST' })
    const old = client.jar.get('session') as string
    await client.request('/regen', { method: 'POST' })
    t.not(client.jar.get('session'), old)
    t.equal((await client.get('/get')).body, '[{"n":1},null]', 'regenerate kept only the listed keys')
    const stale = new Client(client.base)
    stale.jar.set('session', old)
    t.equal((await stale.get('/get')).body, '[null,null]', 'the old token is dead')
    const destroyed = await client.request('/destroy', { method: 'POST' })
    t.ok(destroyed.setCookies.some((c) => c.startsWith('session=;')), 'cookie expired')
    t.equal((await client.get('/get')).body, '[null,null]')
  })
}

suite('memory', () => new MemoryStore({ sweepInterval: 0 }))
if (await reachable(t, `Redis at ${url}`, () => redis.connect())) suite('redis', () => new RedisStore(redis, { prefix }))
