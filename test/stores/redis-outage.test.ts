/**
 * RedisStore when Redis is down: a redis-server of this file's own on a free loopback
 * port is shut down and started again. With the recommended client options every
 * store call fails within a bounded time (the store's retry window plus one command
 * timeout), every HTTP request through the manager within storeTimeout (500 over
 * HTTP); once the server is back the same client, store and manager serve again with
 * no restart. Also: a client pointed at a port nothing listens on.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Redis } from 'ioredis'
import { SessionManager } from '../../lib/index.js'
import { RedisStore, redisClientOptions } from '../../stores/redis.js'
import { Client, counterApp, listen } from '../helpers/http.js'
import { freePort, quiet, reachable } from '../helpers/service.js'

const port = await freePort()
const dir = mkdtempSync(join(tmpdir(), 'session-manager-redis-outage-'))
let server: ChildProcess | undefined
// Snapshots on shutdown only, so data survives the planned stop and restart.
const start = () => {
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  })
}
const up = () => until(async () => (await ping()) === 'PONG', 10_000)
const ping = async () => {
  const probe = quiet(new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null }))
  try {
    await probe.connect()
    return await probe.ping()
  } finally {
    probe.disconnect()
  }
}
async function until(check: () => Promise<boolean>, limit: number): Promise<number> {
  const begin = Date.now()
  while (Date.now() - begin < limit) {
    if (await check().catch(() => false)) return Date.now() - begin
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`condition not met within ${limit} ms`)
}
t.teardown(() => {
  server?.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

start()
if (!(await reachable(t, `a redis-server of this test on 127.0.0.1:${port}`, up))) process.exit()

const client = quiet(new Redis({ port, host: '127.0.0.1', ...redisClientOptions }))
t.teardown(() => client.disconnect())
const store = new RedisStore(client)
const manager = new SessionManager({ store, storeTimeout: 5000, logger: { warn() {}, error() {} } })
const app = await listen(counterApp(manager))
t.teardown(app.close)
const later = () => new Date(Date.now() + 60_000)
/** How long `work` took to settle, and whether it rejected. */
const timed = async (work: () => Promise<unknown>) => {
  const begin = Date.now()
  const rejected = await work().then(() => false, () => true)
  return { ms: Date.now() - begin, rejected }
}
// The store retries a failing call for its retryWindow (4000 ms by default), and no
// attempt outlasts commandTimeout (2000 ms): every call settles within their sum (plus
// scheduling slack), and every request within storeTimeout (5000 ms).
const BOUND = store.retryWindow + redisClientOptions.commandTimeout + 500
const HTTP_BOUND = 5000 + 500

t.test('RedisStore with Redis down: bounded failure, then recovery on the same client', async (t) => {
  await store.commit('kept', Buffer.from('before'), later())
  const browser = new Client(app.url)
  t.equal((await browser.get('/put')).body, 'n=1', 'a session over HTTP before the outage')

  const exited = new Promise((resolve) => server?.once('exit', resolve))
  // From a connection of its own that never reconnects (and so never resends SHUTDOWN).
  const admin = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null })
  await admin.call('SHUTDOWN', 'SAVE').catch(() => {}) // the server closes the connection
  admin.disconnect()
  await exited
  const calls = {
    find: await timed(() => store.find('kept')),
    findVersioned: await timed(() => store.findVersioned('kept')),
    commit: await timed(() => store.commit('new', Buffer.from('x'), later())),
    listUser: await timed(() => store.listUser('u')),
  }
  for (const [name, { ms, rejected }] of Object.entries(calls)) {
    t.ok(rejected, `${name} rejects while Redis is down`)
    t.ok(ms < BOUND, `${name} settled in ${ms} ms (< ${BOUND})`)
  }
  const begin = Date.now()
  const reply = await browser.get('/put')
  const httpMs = Date.now() - begin
  t.equal(reply.status, 500, 'an HTTP request during the outage gets a 500')
  t.ok(httpMs < HTTP_BOUND, `within ${httpMs} ms (< ${HTTP_BOUND})`)
  t.notMatch(reply.body, /Redis|ECONNREFUSED|at /, 'no internals leak to the client')

  const restarted = Date.now()
  start()
  await up()
  const recovered = await until(async () => (await store.find('kept')) !== undefined, 10_000)
  t.equal(Buffer.from((await store.find('kept'))!).toString(), 'before', 'data written before the outage is back')
  const back = await browser.get('/put')
  t.equal(back.status, 200, 'HTTP requests succeed again, no restart of client or manager')
  t.equal(back.body, 'n=2', 'and the session continues where it was')
  console.log(
    `# redis outage: store calls rejected in ${Object.values(calls).map((c) => c.ms).join('/')} ms, ` +
      `HTTP 500 in ${httpMs} ms; the same client served ${recovered} ms after the server answered ` +
      `(${Date.now() - restarted} ms after the restart began)`,
  )
})

t.test('RedisStore on a port nothing listens on rejects within the bound', async (t) => {
  const nowhere = quiet(new Redis({ port: await freePort(), host: '127.0.0.1', ...redisClientOptions }))
  t.teardown(() => nowhere.disconnect())
  const dead = new RedisStore(nowhere)
  const read = await timed(() => dead.find('x'))
  const write = await timed(() => dead.commitIfVersion('x', Buffer.from('x'), later(), undefined))
  t.ok(read.rejected && write.rejected, 'both reject')
  t.ok(read.ms < BOUND && write.ms < BOUND, `in ${read.ms} and ${write.ms} ms (< ${BOUND})`)
})
