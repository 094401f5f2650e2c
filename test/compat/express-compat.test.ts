/**
 * The compatible req.session on its own, over real HTTP: property writes are recorded
 * changes (concurrent requests writing different keys both survive), nested in-place
 * changes are saved, reads are not writes, regenerate/destroy/save/reload/touch,
 * req.sessionID, req.session.cookie, and the API names that cannot be overwritten.
 */
import express from 'express'
import t, { type Test } from 'tap'
import { SessionManager } from '../../lib/index.js'
import { sessionMiddleware } from '../../middleware/express.js'
import { MemoryStore } from '../../stores/memory.js'
import { Client, listen } from '../helpers/http.js'
import { SpyStore } from '../helpers/spy-store.js'

type Sess = Record<string, unknown> & {
  regenerate(cb: (err?: unknown) => void): void
  save(cb: (err?: unknown) => void): void
  reload(cb: (err?: unknown) => void): void
  destroy(cb: (err?: unknown) => void): void
  touch(): unknown
  cookie: { maxAge: number; httpOnly: boolean }
}
const sess = (req: express.Request) => (req as unknown as { session: Sess }).session

async function start(t: Test, delay = 0) {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay })
  const manager = new SessionManager({ store, logger: { warn() {}, error() {} } })
  const app = express()
  app.set('env', 'test')
  app.use(sessionMiddleware(manager, { compat: true }))
  app.get('/set', (req, res) => {
    sess(req)[String(req.query.k)] = String(req.query.v)
    res.send('ok')
  })
  app.get('/nested', (req, res) => {
    const s = sess(req)
    if (s.deep === undefined) s.deep = { list: [] as number[] }
    ;(s.deep as { list: number[] }).list.push(1)
    res.send('ok')
  })
  app.get('/dump', (req, res) => res.json({ ...sess(req) }))
  app.get('/delete', (req, res) => {
    delete sess(req)[String(req.query.k)]
    res.send('ok')
  })
  app.get('/regenerate', (req, res, next) => sess(req).regenerate((err) => (err ? next(err) : res.send('ok'))))
  app.get('/destroy', (req, res, next) => sess(req).destroy((err) => (err ? next(err) : res.send(String(sess(req))))))
  app.get('/save', (req, res, next) => {
    sess(req).saved = 'yes'
    sess(req).save((err) => (err ? next(err) : res.send('ok')))
  })
  app.get('/reload', async (req, res, next) => {
    sess(req).mine = 'mine'
    // Another request changes the session meanwhile; reload shows it, with ours on top.
    await fetch(`${String(req.query.base)}/set?k=theirs&v=theirs`, { headers: { cookie: String(req.headers.cookie) } })
    sess(req).reload((err) => (err ? next(err) : res.json({ ...sess(req) })))
  })
  app.get('/id', (req, res) => res.send(`${(req as unknown as { sessionID: string }).sessionID}|${sess(req).id}`))
  app.get('/cookie', (req, res) => res.json({ maxAge: sess(req).cookie.maxAge > 0, httpOnly: sess(req).cookie.httpOnly }))
  app.get('/string', (req, res) => res.send(`${sess(req)} ${Object.prototype.hasOwnProperty.call(sess(req), 'a')} ${'a' in sess(req)}`))
  app.get('/shadow', (req, res) => {
    try {
      sess(req).save = 1 as never
      res.send('overwritten')
    } catch (err) {
      res.send((err as { code: string }).code)
    }
  })
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => res.status(500).send(err.message))
  const server = await listen(app)
  t.teardown(server.close)
  return { store, client: new Client(server.url) }
}

t.test('express compat: property writes, delete, and a JSON view of the data', async (t) => {
  const { client } = await start(t)
  await client.get('/set?k=a&v=1')
  await client.get('/set?k=b&v=2')
  await client.get('/delete?k=a')
  t.same(JSON.parse((await client.get('/dump')).body), { b: '2' })
})

t.test('express compat: concurrent requests writing different keys both survive (no lost updates)', async (t) => {
  const { client } = await start(t, 30)
  await client.get('/set?k=start&v=1')
  await Promise.all(Array.from({ length: 6 }, (_, i) => client.get(`/set?k=k${i}&v=${i}`)))
  const data = JSON.parse((await client.get('/dump')).body)
  t.same(Object.keys(data).sort(), ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'start'])
})

t.test('express compat: a nested object changed in place is saved; a read is not a write', async (t) => {
  const { client, store } = await start(t)
  await client.get('/nested')
  await client.get('/nested')
  t.same(JSON.parse((await client.get('/dump')).body), { deep: { list: [1, 1] } })
  const writes = store.calls.commitIfVersion ?? 0
  await client.get('/dump')
  t.equal(store.calls.commitIfVersion ?? 0, writes, 'reading nested objects wrote nothing')
})

t.test('express compat: regenerate gives an empty session under a new token, the old one dead', async (t) => {
  const { client } = await start(t)
  await client.get('/set?k=a&v=1')
  const old = client.jar.get('session') as string
  await client.get('/regenerate')
  t.not(client.jar.get('session'), old)
  t.same(JSON.parse((await client.get('/dump')).body), {})
  const stale = new Client(client.base)
  stale.jar.set('session', old)
  t.same(JSON.parse((await stale.get('/dump')).body), {}, 'the old token has nothing')
})

t.test('express compat: destroy deletes the session, expires the cookie, unsets req.session', async (t) => {
  const { client } = await start(t)
  await client.get('/set?k=a&v=1')
  const old = client.jar.get('session') as string
  const res = await client.get('/destroy')
  t.equal(res.body, 'undefined')
  t.ok(res.setCookies.some((c) => c.startsWith('session=;')))
  const stale = new Client(client.base)
  stale.jar.set('session', old)
  t.same(JSON.parse((await stale.get('/dump')).body), {})
})

t.test('express compat: save calls back and the write is there on the next request', async (t) => {
  const { client } = await start(t)
  t.equal((await client.get('/save')).body, 'ok')
  t.same(JSON.parse((await client.get('/dump')).body), { saved: 'yes' })
})

t.test('express compat: reload shows another request\'s write, with this request\'s on top', async (t) => {
  const { client } = await start(t)
  await client.get('/set?k=a&v=1')
  const reloaded = JSON.parse((await client.get(`/reload?base=${encodeURIComponent(client.base)}`)).body)
  t.same(reloaded, { a: '1', mine: 'mine', theirs: 'theirs' })
  t.same(JSON.parse((await client.get('/dump')).body), { a: '1', mine: 'mine', theirs: 'theirs' })
})

t.test('express compat: req.sessionID is stable and never the token; cookie view', async (t) => {
  const { client } = await start(t)
  await client.get('/set?k=a&v=1')
  const [id, id2] = (await client.get('/id')).body.split('|')
  t.match(id, /^[A-Za-z0-9_-]{22}$/)
  t.equal(id, id2)
  t.equal((await client.get('/id')).body.split('|')[0], id, 'stable')
  t.not(id, client.jar.get('session'))
  t.same(JSON.parse((await client.get('/cookie')).body), { maxAge: true, httpOnly: true })
})

t.test('express compat: the API names cannot be overwritten by data', async (t) => {
  const { client } = await start(t)
  await client.get('/set?k=a&v=1')
  t.equal((await client.get('/string')).body, '[object Object] true true', 'behaves as a plain object')
  t.equal((await client.get('/shadow')).body, 'ERR_UNSUPPORTED')
})
