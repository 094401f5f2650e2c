/**
 * The compatible `req.session` (sessionMiddleware(manager, { compat: true })) under the
 * real, unchanged passport + passport-local + connect-flash, over real HTTP with a cookie
 * jar, on the memory store and on Redis: login, a protected page, logout, flash
 * messages, session fixation (the token changes at login, the pre-login token is dead),
 * nested in-place mutation saved, read-only requests not written.
 */
import { randomBytes } from 'node:crypto'
import express from 'express'
import flash from 'connect-flash'
import passport from 'passport'
import { Strategy as LocalStrategy } from 'passport-local'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { SessionManager, type Store } from '../../lib/index.js'
import { sessionMiddleware } from '../../middleware/express.js'
import { MemoryStore } from '../../stores/memory.js'
import { RedisStore, redisClientOptions } from '../../stores/redis.js'
import { Client, listen } from '../helpers/http.js'
import { reachable } from '../helpers/service.js'
import { SpyStore } from '../helpers/spy-store.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const redis = new Redis(url, { ...redisClientOptions, lazyConnect: true })
t.teardown(() => redis.disconnect())
const prefix = `test-compat-passport-express-${randomBytes(4).toString('hex')}:`
t.teardown(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.unlink(...keys)
})

const USERS: Record<string, { id: string; password: string }> = { ada: { id: 'u1', password: 'lovelace' } }

async function start(t: Test, inner: Store) {
  const store = new SpyStore(inner)
  const manager = new SessionManager({ store, logger: { warn() {}, error() {} } })
  const auth = new passport.Passport()
  auth.use(
    new LocalStrategy((username, password, done) => {
      const user = USERS[username]
      done(null, user !== undefined && user.password === password ? user : false, { message: 'bad login' })
    }),
  )
  auth.serializeUser((user: Express.User, done) => done(null, (user as { id: string }).id))
  auth.deserializeUser((id: string, done) => done(null, Object.values(USERS).find((u) => u.id === id) ?? false))
  const app = express()
  app.use(express.urlencoded({ extended: false }))
  app.use(sessionMiddleware(manager, { compat: true }))
  app.use(flash())
  app.use(auth.session())
  app.post('/login', auth.authenticate('local', { failureRedirect: '/login', failureFlash: true }), (_req, res) => {
    res.redirect('/private')
  })
  app.post('/login-keep', auth.authenticate('local', { keepSessionInfo: true }), (_req, res) => res.send('in'))
  app.post('/cart', (req, res) => {
    ;(req.session as unknown as { cart: string[] }).cart = ['book']
    res.send('ok')
  })
  app.get('/cart', (req, res) => res.send(JSON.stringify((req.session as unknown as { cart?: string[] }).cart ?? null)))
  app.get('/login', (req, res) => res.send(`login page ${JSON.stringify(req.flash('error'))}`))
  app.get('/private', (req, res) => {
    if (!req.isAuthenticated()) return res.status(401).send('no')
    res.send(`hello ${(req.user as { id: string }).id}`)
  })
  app.post('/note', (req, res) => {
    req.flash('info', 'saved')
    res.send('ok')
  })
  app.get('/notes', (req, res) => res.send(JSON.stringify(req.flash('info'))))
  app.post('/logout', (req, res, next) => {
    req.logout((err) => (err ? next(err) : res.redirect('/')))
  })
  const server = await listen(app)
  t.teardown(server.close)
  return { store, manager, client: new Client(server.url) }
}

const form = (body: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(body).toString(),
})

function suite(name: string, make: () => Store) {
  t.test(`${name}: passport login, protected page, logout`, async (t) => {
    const { client } = await start(t, make())
    t.equal((await client.get('/private')).status, 401)
    const login = await client.request('/login', form({ username: 'ada', password: 'lovelace' }))
    t.equal(login.status, 302)
    t.equal(login.headers.get('location'), '/private')
    t.equal(login.setCookies.length, 1, 'the session cookie is set at login')
    const page = await client.get('/private')
    t.equal(page.status, 200)
    t.equal(page.body, 'hello u1')
    const logout = await client.request('/logout', { method: 'POST' })
    t.equal(logout.status, 302)
    t.equal((await client.get('/private')).status, 401, 'logged out')
  })

  t.test(`${name}: session fixation: the token changes at login, the pre-login token is dead`, async (t) => {
    const { client } = await start(t, make())
    await client.request('/note', { method: 'POST' })
    const before = client.jar.get('session')
    t.ok(before, 'an anonymous session exists before login')
    await client.request('/login', form({ username: 'ada', password: 'lovelace' }))
    const after = client.jar.get('session')
    t.ok(after)
    t.not(after, before, 'new token at login')
    t.equal((await client.get('/private')).status, 200)
    // The attacker who planted (or read) the pre-login token gets nothing.
    const attacker = new Client(client.base)
    attacker.jar.set('session', before as string)
    t.equal((await attacker.get('/private')).status, 401, 'pre-login token is not logged in')
    t.equal((await attacker.get('/notes')).body, '[]', 'pre-login token has no data left')
  })

  t.test(`${name}: keepSessionInfo carries the pre-login data to the new token`, async (t) => {
    const { client } = await start(t, make())
    await client.request('/cart', { method: 'POST' })
    const before = client.jar.get('session') as string
    t.equal((await client.request('/login-keep', form({ username: 'ada', password: 'lovelace' }))).body, 'in')
    t.not(client.jar.get('session'), before, 'new token')
    t.equal((await client.get('/cart')).body, '["book"]', 'data kept')
    t.equal((await client.get('/private')).status, 200)
    const old = new Client(client.base)
    old.jar.set('session', before)
    t.equal((await old.get('/cart')).body, 'null', 'the old token is dead')
  })

  t.test(`${name}: a failed login flashes its message through connect-flash`, async (t) => {
    const { client } = await start(t, make())
    const bad = await client.request('/login', form({ username: 'ada', password: 'nope' }))
    t.equal(bad.status, 302)
    t.equal(bad.headers.get('location'), '/login')
    t.equal((await client.get('/login')).body, 'login page ["bad login"]')
    t.equal((await client.get('/login')).body, 'login page []', 'a flash is read once')
  })

  t.test(`${name}: connect-flash mutates req.session.flash in place; it is saved`, async (t) => {
    const { client, store } = await start(t, make())
    await client.request('/note', { method: 'POST' })
    await client.request('/note', { method: 'POST' })
    t.equal((await client.get('/notes')).body, '["saved","saved"]')
    const commits = store.calls.commitIfVersion ?? store.calls.commit ?? 0
    await client.get('/private')
    t.equal(store.calls.commitIfVersion ?? store.calls.commit ?? 0, commits, 'a read-only request writes nothing')
  })
}

suite('memory', () => new MemoryStore({ sweepInterval: 0 }))
if (await reachable(t, `Redis at ${url}`, () => redis.connect())) suite('redis', () => new RedisStore(redis, { prefix }))
