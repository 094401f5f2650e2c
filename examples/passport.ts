/**
 * passport + passport-local + connect-flash, unchanged, on this library: the
 * express-session compatible `req.session` (`compat: true`), a CSRF token in the login
 * form, and express-session users carried over when OLD_SECRET (and Redis) are given.
 *
 *   node --import tsx examples/passport.ts          # http://127.0.0.1:3000, user ada / lovelace
 *   SESSION_STORE=redis://127.0.0.1:6379 OLD_SECRET=... node --import tsx examples/passport.ts
 */
import express from 'express'
import flash from 'connect-flash'
import passport from 'passport'
import { Strategy as LocalStrategy } from 'passport-local'
import { Redis } from 'ioredis'
import { carryOver, connectRedisSource, SessionManager } from '../lib/index.js'
import { csrfGuard, sessionErrors, sessionMiddleware } from '../middleware/express.js'
import { createStore } from '../stores/url.js'

const users = new Map([['ada', { id: '1', name: 'Ada', password: 'lovelace' }]])

passport.use(
  new LocalStrategy((username, password, done) => {
    const user = users.get(username)
    // A real app compares password hashes (argon2, scrypt), in constant time.
    done(null, user !== undefined && user.password === password ? user : false, { message: 'Wrong user or password.' })
  }),
)
passport.serializeUser((user: Express.User, done) => done(null, (user as { id: string }).id))
passport.deserializeUser((id: string, done) => done(null, [...users.values()].find((u) => u.id === id) ?? false))

const storeUrl = process.env.SESSION_STORE ?? 'memory:'
const { store } = await createStore(storeUrl)
const manager = new SessionManager({ store, lifetime: '24h', idleTimeout: '30m' })
const oldSecret = process.env.OLD_SECRET
const carry =
  oldSecret !== undefined && storeUrl.startsWith('redis://')
    ? carryOver({ secrets: oldSecret, source: connectRedisSource(new Redis(storeUrl)) })
    : undefined

const app = express()
app.use(express.urlencoded({ extended: false }))
app.use(sessionMiddleware(manager, { compat: true, carryOver: carry }))
app.use(csrfGuard(manager))
app.use(flash())
app.use(passport.session())

const page = (body: string) => `<!doctype html><meta charset="utf-8"><title>passport example</title>${body}`
const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

app.get('/', (req, res) => {
  const user = req.user as { name: string } | undefined
  if (user === undefined) return res.redirect('/login')
  res.send(page(`<p id="hello">Hello ${escape(user.name)}</p>
<form method="post" action="/logout"><input type="hidden" name="_csrf" value="${manager.csrfToken(req)}"><button>Log out</button></form>`))
})
app.get('/login', (req, res) => {
  const errors = req.flash('error').map((m) => `<p class="error">${escape(m)}</p>`).join('')
  res.send(page(`${errors}<form method="post" action="/login">
<input type="hidden" name="_csrf" value="${manager.csrfToken(req)}">
<input name="username"> <input name="password" type="password"> <button>Log in</button></form>`))
})
app.post('/login', passport.authenticate('local', { successRedirect: '/', failureRedirect: '/login', failureFlash: true }))
app.post('/logout', (req, res, next) => req.logout((err) => (err ? next(err) : res.redirect('/login'))))
app.use(sessionErrors(manager))

const port = Number(process.env.PORT ?? 3000)
const server = app.listen(port, '127.0.0.1', () => {
  const address = server.address() as { port: number }
  console.log(`passport example on http://127.0.0.1:${address.port}/`)
})
