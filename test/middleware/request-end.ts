/**
 * The request end, the same on every adapter: whatever kind of request it was — anonymous,
 * read-only, modified, renewed, destroyed, failed, abandoned by the client — nothing the
 * request held is left behind (`manager.inFlight` is back to 0), and the headers the
 * session adds merge with the app's own instead of replacing or being hidden by them.
 */
import { request } from 'node:http'
import t, { type Test } from 'tap'
import { start } from './behaviour.js'
import type { AppFactory } from './helpers/apps.js'

/** Poll until `done()` or `ms` pass; true when it became true. */
async function eventually(done: () => boolean, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms
  while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
  return done()
}

/** Send a request with `cookie` and hang up after `after` ms, before any answer. */
function hangUp(base: string, path: string, cookie: string, after: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request(base + path, { headers: { cookie } })
    req.on('error', () => resolve())
    req.on('response', () => resolve())
    req.end()
    setTimeout(() => {
      req.destroy()
      resolve()
    }, after)
  })
}

const tokens = (header: string | null) => (header ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)

/**
 * Run the request-end suite against the app `factory` builds; `name` prefixes each test.
 *
 * @example
 * ```ts
 * requestEnd('koa sessionMiddleware', koaApp)
 * ```
 */
export function requestEnd(name: string, factory: AppFactory): void {
  const test = (title: string, fn: (t: Test) => Promise<void>) => t.test(`${name}: ${title}`, fn)

  test('every kind of request ends holding nothing', async (t) => {
    const { manager, client } = await start(t, factory)
    const kinds = ['/', '/put', '/', '/put', '/renew', '/', '/throw', '/destroy', '/', '/put', '/forget']
    for (const path of kinds) {
      const reply = await client.get(path)
      t.ok(reply.status === 200 || path === '/throw', `${path} answered ${reply.status}`)
      t.equal(manager.inFlight, 0, `nothing held after ${path}`)
    }
  })

  test('read-only requests of many sessions hold nothing afterwards', async (t) => {
    const { manager, client } = await start(t, factory)
    const jars: string[] = []
    for (let i = 0; i < 30; i++) {
      await client.get('/put')
      jars.push(client.cookieHeader)
      client.jar.clear()
    }
    for (let round = 0; round < 3; round++) {
      await Promise.all(jars.map((cookie) => client.get('/', { headers: { cookie } })))
    }
    t.equal(manager.inFlight, 0, '90 reads of 30 sessions: nothing held')
  })

  test('a client that hangs up mid-request leaves nothing held', async (t) => {
    const { manager, client } = await start(t, factory)
    await client.get('/put')
    const cookie = client.cookieHeader
    await hangUp(client.base, '/slow?ms=150', cookie, 30)
    t.ok(await eventually(() => manager.inFlight === 0), 'a late answer to a closed socket: released')
    await hangUp(client.base, '/never', cookie, 30)
    t.ok(await eventually(() => manager.inFlight === 0, 1500), 'a handler that never answers: released on close')
    t.equal((await client.get('/')).body, 'n=1', 'the session is intact')
  })

  test('header transport: a response carrying a new token is never storable by a shared cache', async (t) => {
    for (const transport of ['header', 'both'] as const) {
      const { client } = await start(t, factory, { options: { transport } })
      const reply = await client.get(`/put?cc=${encodeURIComponent('public, max-age=60')}`)
      t.equal(reply.status, 200)
      t.match(reply.headers.get('session-token'), /^[A-Za-z0-9_-]{43}$/, `${transport}: the token is in the header`)
      const cc = tokens(reply.headers.get('cache-control'))
      t.ok(cc.includes('private'), `${transport}: private (${cc.join(', ')})`)
      t.notOk(cc.includes('public'), `${transport}: the app's public is withdrawn`)
      t.ok(cc.includes('max-age=60'), `${transport}: the app's max-age stays for the browser`)
      const read = await client.get(`/?cc=${encodeURIComponent('public, max-age=60')}`, {
        headers: { authorization: `Bearer ${reply.headers.get('session-token')}` },
      })
      t.equal(read.body, 'n=1')
      t.equal(read.headers.get('session-token'), null, 'a read sends no token')
      t.equal(read.headers.get('cache-control'), 'public, max-age=60', "and leaves the app's caching alone")
    }
  })

  test('Vary is merged token by token, Cache-Control is extended, never repeated', async (t) => {
    const { client } = await start(t, factory)
    const consent = await client.get('/put?vary=Cookie-Consent')
    t.same(tokens(consent.headers.get('vary')).sort(), ['cookie', 'cookie-consent'], 'Cookie-Consent does not hide Cookie')
    client.jar.clear()
    const already = await client.get('/put?vary=Accept-Encoding,%20cookie')
    t.same(tokens(already.headers.get('vary')).sort(), ['accept-encoding', 'cookie'], 'cookie once, whatever its case')
    client.jar.clear()
    const star = await client.get('/put?vary=*')
    t.same(tokens(star.headers.get('vary')), ['*'], 'Vary: * already covers Cookie')
    client.jar.clear()
    const cached = await client.get(`/put?cc=${encodeURIComponent('public, max-age=600')}`)
    t.same(tokens(cached.headers.get('cache-control')), ['public', 'max-age=600', 'no-cache="set-cookie"'])
    client.jar.clear()
    const own = await client.get(`/put?cc=${encodeURIComponent('no-cache="Set-Cookie", max-age=5')}`)
    t.same(tokens(own.headers.get('cache-control')), ['no-cache="set-cookie"', 'max-age=5'], 'not repeated')
  })
}
