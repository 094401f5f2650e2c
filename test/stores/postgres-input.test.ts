/**
 * PostgresStore against bad input and a bad network, over real HTTP on the machine's
 * Postgres: a corrupt stored row is no session plus a `corrupt` event; oversize data,
 * oversize or NUL keys are refused before any query; a server that is down gives a
 * prompt StoreError and, once it answers, the same app recovers; a server that accepts
 * connections but never answers gives ERR_STORE_TIMEOUT within storeTimeout.
 */
import { createServer, connect, type Socket } from 'node:net'
import t from 'tap'
import pg from 'pg'
import { SessionManager, type SessionError } from '../../lib/index.js'
import { sessionId } from '../../lib/events.js'
import { PostgresStore } from '../../stores/postgres.js'
import { Client, counterApp, listen } from '../helpers/http.js'
import { postgres, postgresUrl } from '../helpers/postgres.js'
import { freePort } from '../helpers/service.js'

const db = await postgres(t, 'input', 5)
if (db === undefined) process.exit()
const { pool, table } = db
const store = await PostgresStore.create(pool, { table, createTable: true, cleanupInterval: 0, maxDataSize: 4096 })
t.teardown(() => store.close())
const later = () => new Date(Date.now() + 60_000)

/** A pool on a port nothing listens on: any query that is attempted fails with ECONNREFUSED. */
const downPool = async () => {
  const p = new pg.Pool({ host: '127.0.0.1', port: await freePort(), user: 'postgres', connectionTimeoutMillis: 500 })
  t.teardown(() => p.end())
  return p
}

t.test('a corrupt stored row: no session, a corrupt event, and a write starts afresh', async (t) => {
  const events: { id: string; error: unknown }[] = []
  const manager = new SessionManager({ store, prefix: 'corrupt:', logger: { warn() {}, error() {} } })
  manager.on('corrupt', (e) => events.push(e))
  const app = await listen(counterApp(manager))
  t.teardown(app.close)
  const browser = new Client(app.url)
  await browser.get('/put')
  t.equal((await browser.get('/')).body, 'n=1')
  const hit = await pool.query(`UPDATE "${table}" SET data = '\\xdeadbeef00ff' WHERE id LIKE 'corrupt:%' RETURNING id`)
  t.equal(hit.rowCount, 1, 'the row was overwritten with garbage')
  const reply = await browser.get('/')
  t.equal(reply.status, 200, 'never a 500')
  t.equal(reply.body, 'n=0', 'served without a session')
  t.match(events, [{ id: sessionId(hit.rows[0].id), error: { code: 'ERR_CODEC' } }], 'one corrupt event for that session (by opaque id)')
  t.equal((await browser.get('/put')).body, 'n=1', 'a write starts a fresh session')
})

t.test('oversize data is refused before the query', async (t) => {
  const down = new PostgresStore(await downPool(), { cleanupInterval: 0, maxDataSize: 100 })
  await t.rejects(down.commit('k', new Uint8Array(101), later()), { code: 'ERR_TOO_LARGE', size: 101, limit: 100 }, 'not ECONNREFUSED: no query was tried')
  await t.rejects(down.commitIfVersion('k', new Uint8Array(101), later(), undefined), { code: 'ERR_TOO_LARGE' })
  await t.rejects(store.commit('big', new Uint8Array(4097), later()), { code: 'ERR_TOO_LARGE' })
  t.equal(await store.find('big'), undefined, 'nothing was written')
  await t.rejects(down.commit('k', new Uint8Array(100), later()), { code: 'ECONNREFUSED' }, 'at the limit, the query is tried')

  const failures: unknown[] = []
  const manager = new SessionManager({ store, prefix: 'big:', logger: { warn() {}, error: (_m, e) => failures.push(e) } })
  const app = await listen(
    manager.loadAndSave((req, res) => {
      if (req.url === '/big') manager.put(req, 'blob', 'x'.repeat(8000))
      else manager.put(req, 'small', 1)
      res.end('ok')
    }),
  )
  t.teardown(app.close)
  const browser = new Client(app.url)
  t.equal((await browser.get('/small')).status, 200)
  const big = await browser.get('/big')
  t.equal(big.status, 500, 'an oversize session is an error response')
  t.notMatch(big.body, /at |PostgresStore|TooLarge/, 'without a stack trace or internals')
  t.match(failures, [{ code: 'ERR_TOO_LARGE' }], 'reported as TooLargeError')
  const rows = await pool.query(`SELECT length(data) AS n FROM "${table}" WHERE id LIKE 'big:%'`)
  t.ok(rows.rows.length === 1 && rows.rows[0].n < 4096, 'the stored session was kept as it was')
})

t.test('keys and users the table cannot hold never reach the server', async (t) => {
  const down = new PostgresStore(await downPool(), { cleanupInterval: 0 })
  const long = 'k'.repeat(1025)
  t.equal(await down.find(long), undefined, 'an oversize key is no session, without a query')
  t.equal(await down.find('a\0b'), undefined, 'a key with NUL is no session, without a query')
  t.equal(await down.findVersioned('a\0b'), undefined)
  t.same(await down.listUser('u\0'), [], 'a user with NUL has no sessions')
  await down.delete(long)
  await down.touch(long, later())
  await down.removeFromUser('u\0', 'k')
  t.pass('delete, touch and removeFromUser of such keys are no-ops')
  await t.rejects(down.commit('a\0b', new Uint8Array(1), later()), { code: 'ERR_STORE', operation: 'commit' })
  await t.rejects(down.addToUser('u\0', 'k', later()), { code: 'ERR_STORE', operation: 'addToUser' })
  const seen: string[] = []
  for await (const [k] of down.all('p\0')) seen.push(k)
  t.same(seen, [], 'all() of a NUL prefix lists nothing')
  // Through the real server: a key at the limit works, unicode and LIKE metacharacters are exact.
  const edge = `${'é'.repeat(512)}`
  await store.commit(edge, new Uint8Array([1]), later())
  t.same([...((await store.find(edge)) ?? [])], [1], 'a key of exactly 1024 bytes is stored')
  await store.commit('pct%_!x', new Uint8Array([2]), later())
  await store.commit('pctAB!x', new Uint8Array([3]), later())
  const listed: string[] = []
  for await (const [k] of store.all('pct%_')) listed.push(k)
  t.same(listed, ['pct%_!x'], '% and _ in a prefix match themselves only')
})

/** A loopback port that relays to the real server once `up()` is called, refusing before. */
async function relay() {
  const port = await freePort()
  const target = new URL(postgresUrl)
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream).pipe(client)
  })
  t.teardown(() => {
    server.close()
    for (const s of sockets) s.destroy()
  })
  return { port, up: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)) }
}

t.test('a server that is down: prompt StoreErrors, then recovery without restarting the app', async (t) => {
  const { port, up } = await relay()
  const url = new URL(postgresUrl)
  const p = new pg.Pool({ host: '127.0.0.1', port, user: url.username, database: url.pathname.slice(1), connectionTimeoutMillis: 1000 })
  t.teardown(() => p.end())
  const s = new PostgresStore(p, { table, cleanupInterval: 0 })
  await t.rejects(s.ready, { code: 'ECONNREFUSED' }, 'the startup check fails: the server is down')
  const failures: SessionError[] = []
  const manager = new SessionManager({ store: s, prefix: 'down:', storeTimeout: 1500, logger: { warn() {}, error: (_m, e) => failures.push(e as SessionError) } })
  const app = await listen(counterApp(manager))
  t.teardown(app.close)
  const browser = new Client(app.url)
  const started = Date.now()
  const reply = await browser.get('/put')
  t.equal(reply.status, 500, 'a request that needs the store fails')
  t.ok(Date.now() - started < 1500, `promptly (${Date.now() - started} ms)`)
  t.match(failures, [{ code: 'ERR_STORE', store: 'PostgresStore' }], 'with a StoreError naming the store')
  await up()
  t.equal((await browser.get('/put')).body, 'n=1', 'once the server answers, the same app works')
  t.equal((await browser.get('/put')).body, 'n=2')
})

t.test('a server that never answers: ERR_STORE_TIMEOUT within storeTimeout', async (t) => {
  const silent = createServer(() => {}) // accepts, never speaks
  const sockets = new Set<Socket>()
  silent.on('connection', (c) => sockets.add(c))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const c of sockets) c.destroy()
    silent.close()
  })
  const { port } = silent.address() as { port: number }
  const p = new pg.Pool({ host: '127.0.0.1', port, user: 'postgres', connectionTimeoutMillis: 10_000 })
  t.teardown(() => p.end().catch(() => {}))
  const s = new PostgresStore(p, { table, cleanupInterval: 0 })
  s.ready.catch(() => {})
  const failures: SessionError[] = []
  const manager = new SessionManager({ store: s, prefix: 'hang:', storeTimeout: 700, logger: { warn() {}, error: (_m, e) => failures.push(e as SessionError) } })
  const app = await listen(counterApp(manager))
  t.teardown(app.close)
  const browser = new Client(app.url)
  const started = Date.now()
  const reply = await browser.get('/put')
  const took = Date.now() - started
  t.equal(reply.status, 500)
  t.ok(took >= 600 && took < 3000, `answered after ${took} ms (storeTimeout 700)`)
  t.match(failures, [{ code: 'ERR_STORE_TIMEOUT' }])
})
