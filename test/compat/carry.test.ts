/**
 * Carrying express-session sessions over: a real express-session + connect-redis +
 * passport app logs a user in and writes its entry into real Redis; the same client
 * then reaches an app of this library (compat + carryOver with connectRedisSource on
 * ioredis) and is still logged in, under a new token, with the old cookie expired and
 * the old entry gone. Attacks: a forged signature, the wrong secret, a replay of the
 * carried cookie after retirement, two racing requests with one old cookie.
 */
import { createHmac, randomBytes } from 'node:crypto'
import express from 'express'
import expressSession from 'express-session'
import { RedisStore as ConnectRedis } from 'connect-redis'
import passport from 'passport'
import { Strategy as LocalStrategy } from 'passport-local'
import { createClient } from 'redis'
import { Redis } from 'ioredis'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { sessionPlugin } from '../../middleware/fastify.js'
import { carryOver, connectRedisSource, SessionManager } from '../../lib/index.js'
import { sessionMiddleware } from '../../middleware/express.js'
import { MemoryStore } from '../../stores/memory.js'
import { Client, listen } from '../helpers/http.js'
import { reachable } from '../helpers/service.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const ioredis = new Redis(url, { lazyConnect: true })
t.teardown(() => ioredis.disconnect())
if (!(await reachable(t, `Redis at ${url}`, () => ioredis.connect()))) process.exit()
const nodeRedis = createClient({ url })
await nodeRedis.connect()
t.teardown(() => nodeRedis.destroy())
const prefix = `test-compat-carry-${randomBytes(4).toString('hex')}:sess:`
t.teardown(async () => {
  const keys = await ioredis.keys(`${prefix}*`)
  if (keys.length > 0) await ioredis.unlink(...keys)
})

const OLD_SECRET = 'the old express-session secret'
const user = { id: 'u1', name: 'ada' }

function withPassport(app: express.Express) {
  const auth = new passport.Passport()
  auth.use(new LocalStrategy((username, password, done) => done(null, username === 'ada' && password === 'pw' ? user : false)))
  auth.serializeUser((u: Express.User, done) => done(null, (u as typeof user).id))
  auth.deserializeUser((id: string, done) => done(null, id === user.id ? user : false))
  app.use(auth.session())
  app.post('/login', auth.authenticate('local'), (_req, res) => res.send('in'))
  app.get('/private', (req, res) => res.status(req.isAuthenticated() ? 200 : 401).send(req.isAuthenticated() ? 'hello u1' : 'no'))
}

/** The app before the switch: express-session + connect-redis. */
async function before(t: Test) {
  const app = express()
  app.use(express.urlencoded({ extended: false }))
  app.use(expressSession({ secret: OLD_SECRET, resave: false, saveUninitialized: false, store: new ConnectRedis({ client: nodeRedis, prefix }) }))
  withPassport(app)
  const server = await listen(app)
  t.teardown(server.close)
  return server.url
}

/** The app after the switch: this library, carrying old sessions over. */
async function after(t: Test, secrets: string[] = ['a newer secret', OLD_SECRET]) {
  const manager = new SessionManager({ store: new MemoryStore({ sweepInterval: 0 }), logger: { warn() {}, error() {} } })
  const app = express()
  app.use(express.urlencoded({ extended: false }))
  app.use(sessionMiddleware(manager, { compat: true, carryOver: carryOver({ secrets, source: connectRedisSource(ioredis, { prefix }) }) }))
  withPassport(app)
  const server = await listen(app)
  t.teardown(server.close)
  return server.url
}

async function loggedInOld(t: Test) {
  const client = new Client(await before(t))
  const login = await client.request('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=ada&password=pw' })
  t.equal(login.status, 200)
  t.equal((await client.get('/private')).status, 200, 'logged in on express-session')
  const cookie = client.jar.get('connect.sid') as string
  t.match(decodeURIComponent(cookie), /^s:[^.]+\.[A-Za-z0-9+/]+$/)
  return { client, cookie, sid: decodeURIComponent(cookie).slice(2).split('.')[0] as string }
}

t.test('carryOver: an express-session user stays logged in through the switch, once', async (t) => {
  const { client, cookie, sid } = await loggedInOld(t)
  t.ok(await ioredis.exists(`${prefix}${sid}`), 'connect-redis wrote sess:<sid>')
  const next = new Client(await after(t))
  next.jar.set('connect.sid', cookie)
  const page = await next.get('/private')
  t.equal(page.status, 200, 'still logged in')
  t.equal(page.body, 'hello u1')
  t.ok(page.setCookies.some((c) => c.startsWith('session=')), 'a cookie of this library is set')
  t.ok(page.setCookies.some((c) => /^connect\.sid=;/.test(c) && /Expires=Thu, 01 Jan 1970/i.test(c)), 'the old cookie is expired')
  t.notOk(next.jar.has('connect.sid'))
  t.equal(await ioredis.exists(`${prefix}${sid}`), 0, 'the old entry is retired')
  t.equal((await next.get('/private')).status, 200, 'the new session carries on')
  // Replay: the old cookie, carried once, gives nothing any more.
  const replay = new Client(next.base)
  replay.jar.set('connect.sid', cookie)
  t.equal((await replay.get('/private')).status, 401, 'a replayed carried-over cookie is dead')
  t.ok(client)
})

t.test('carryOver: forged signatures and the wrong secret never reach the store', async (t) => {
  const { cookie, sid } = await loggedInOld(t)
  const forge = (secret: string) => encodeURIComponent(`s:${sid}.${createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '')}`)
  const base = await after(t, ['only a newer secret'])
  const wrong = new Client(base)
  wrong.jar.set('connect.sid', cookie)
  t.equal((await wrong.get('/private')).status, 401, 'signed with a secret the app does not list')
  const attacker = new Client(await after(t))
  attacker.jar.set('connect.sid', forge('guessed secret'))
  t.equal((await attacker.get('/private')).status, 401, 'forged signature')
  attacker.jar.set('connect.sid', encodeURIComponent(`s:${sid}`))
  t.equal((await attacker.get('/private')).status, 401, 'no signature')
  attacker.jar.set('connect.sid', sid)
  t.equal((await attacker.get('/private')).status, 401, 'unsigned sid')
  attacker.jar.set('connect.sid', '%E0%A4%A')
  t.equal((await attacker.get('/private')).status, 401, 'broken percent-encoding')
  attacker.jar.set('connect.sid', encodeURIComponent(`s:${'a'.repeat(300)}.${'b'.repeat(43)}`))
  t.equal((await attacker.get('/private')).status, 401, 'oversized sid')
  t.equal(await ioredis.exists(`${prefix}${sid}`), 1, 'the entry is untouched by the forgeries')
  const right = new Client(attacker.base)
  right.jar.set('connect.sid', forge(OLD_SECRET))
  t.equal((await right.get('/private')).status, 200, 'the second listed secret verifies')
})

t.test('carryOver: two racing requests with one old cookie carry it over once', async (t) => {
  const { cookie } = await loggedInOld(t)
  const base = await after(t)
  const a = new Client(base)
  const b = new Client(base)
  a.jar.set('connect.sid', cookie)
  b.jar.set('connect.sid', cookie)
  const [ra, rb] = await Promise.all([a.get('/private'), b.get('/private')])
  t.same([ra.status, rb.status].sort(), [200, 401], 'exactly one request got the session')
})

t.test('carryOver validates its options', async (t) => {
  const source = connectRedisSource(ioredis)
  t.throws(() => carryOver({ secrets: [], source }), { code: 'ERR_CONFIG' })
  t.throws(() => carryOver({ secrets: [''], source }), { code: 'ERR_CONFIG' })
  t.throws(() => carryOver({ secrets: 'x', source: {} as never }), { code: 'ERR_CONFIG' })
})

t.test('carryOver on Fastify: the old passport data reaches request.session', async (t) => {
  const { cookie, sid } = await loggedInOld(t)
  const manager = new SessionManager({ logger: { warn() {}, error() {} } })
  const app = Fastify()
  await app.register(sessionPlugin, { manager, compat: true, carryOver: carryOver({ secrets: OLD_SECRET, source: connectRedisSource(ioredis, { prefix }) }) })
  app.get('/who', async (req) => JSON.stringify((req as unknown as { session: { get(k: string): unknown } }).session.get('passport') ?? null))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const client = new Client(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`)
  client.jar.set('connect.sid', cookie)
  const first = await client.get('/who')
  t.equal(first.body, '{"user":"u1"}')
  t.ok(first.setCookies.some((c) => /^connect\.sid=;/.test(c)), 'old cookie expired')
  t.ok(client.jar.has('session'))
  t.equal((await client.get('/who')).body, '{"user":"u1"}', 'kept in the new session')
  t.equal(await ioredis.exists(`${prefix}${sid}`), 0, 'retired')
})
