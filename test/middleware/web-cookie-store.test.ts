/**
 * The Fetch and Hono adapters on the sealed cookie store, over real HTTP on Node: the
 * whole session travels in the cookie, read back, renewed, destroyed; a tampered or
 * truncated cookie is no session and no crash.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { SessionManager } from '../../lib/index.js'
import { CookieStore } from '../../stores/cookie.js'
import { Client } from '../helpers/http.js'
import { fetchApp, honoApp, type AppFactory } from './helpers/apps.js'

for (const [name, factory] of [['fetchHandler', fetchApp], ['hono sessionMiddleware', honoApp]] as Array<[string, AppFactory]>) {
  t.test(`${name} on the cookie store: write, read back, renew, destroy, tamper`, async (t) => {
    const manager = new SessionManager({ store: new CookieStore({ keys: [randomBytes(32)] }), logger: { warn() {}, error() {} } })
    const app = await factory({ manager, errors: [] })
    t.teardown(app.close)
    const client = new Client(app.url)
    const first = await client.get('/put?k=user&v=ada')
    t.equal(first.status, 200)
    t.equal(first.setCookies.length, 1)
    t.equal((await client.get('/get?k=user')).body, 'ada', 'read back from the cookie alone')
    await client.get('/put')
    t.equal((await client.get('/')).body, 'n=1')
    const before = client.cookieHeader
    t.equal((await client.get('/renew')).status, 200)
    t.not(client.cookieHeader, before, 'renewed: a new cookie')
    t.equal((await client.get('/get?k=user')).body, 'ada', 'same data after renew')
    const sealed = client.cookieHeader
    const value = sealed.slice(sealed.indexOf('=') + 1)
    const flipped = value.slice(0, -3) + (value.at(-3) === 'A' ? 'B' : 'A') + value.slice(-2)
    for (const cookie of [`session=${flipped}`, `session=${value.slice(0, value.length >> 1)}`, `session=${value}${value}`]) {
      const reply = await new Client(app.url).get('/get?k=user', { headers: { cookie } })
      t.equal(reply.status, 200, 'a tampered cookie is served')
      t.equal(reply.body, '', 'without the session')
    }
    const destroyed = await client.get('/destroy')
    t.match(destroyed.setCookies[0], /Max-Age=0/)
    t.equal(manager.inFlight, 0)
  })
}
