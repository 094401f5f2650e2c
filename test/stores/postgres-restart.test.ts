/**
 * PostgresStore through a server restart under load, on the project's private instance
 * (PG_PRIVATE_URL; never the machine's shared 5432). Twenty browsers keep writing keys
 * of their own over real HTTP while the server is stopped (fast shutdown, then a crash:
 * `-m immediate`) and started again. While it is down requests fail promptly (a 500
 * within storeTimeout, never a hang or a crash of the app, whose pool has no 'error'
 * listener of its own); once it is back they succeed again without restarting the app;
 * and every write that was acknowledged is there afterwards: 0 acknowledged writes lost.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import pg from 'pg'
import { SessionManager } from '../../lib/index.js'
import { PostgresStore } from '../../stores/postgres.js'
import { takeTurns } from '../helpers/exclusive.js'
import { Client, listen } from '../helpers/http.js'
import { freshTable, pgCtl, privatePostgresUrl } from '../helpers/postgres.js'
import { reachable } from '../helpers/service.js'

await takeTurns(t, 'postgres-private')
// Deliberately no pool.on('error'): the store must keep a dropped idle connection from crashing the app.
const pool = new pg.Pool({ connectionString: privatePostgresUrl, max: 10, connectionTimeoutMillis: 1000 })
const table = freshTable('restart')
t.teardown(async () => {
  await pgCtl('start').catch(() => {}) // never leave the instance down
  await pool.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => {})
  await pool.end()
})
if (!(await reachable(t, `PostgreSQL at ${privatePostgresUrl}`, () => pool.query('SELECT 1')))) process.exit()

const storeTimeout = 2000
const store = await PostgresStore.create(pool, { table, createTable: true, cleanupInterval: 0 })
t.teardown(() => store.close())
const manager = new SessionManager({ store, storeTimeout, logger: { warn() {}, error() {} } })
const app = await listen(
  manager.loadAndSave((req, res) => {
    const k = new URL(req.url ?? '/', 'http://x').searchParams.get('k')
    if (k !== null) manager.put(req, k, true)
    res.end(JSON.stringify(manager.keys(req)))
  }),
)
t.teardown(app.close)

interface Browser {
  client: Client
  acked: string[]
  failed: number
  slowest: number
}

/** Keep every browser writing until `stop()`; resolves once all have stopped. */
function load(browsers: Browser[]) {
  let running = true
  let seq = 0
  const loops = browsers.map(async (b) => {
    while (running) {
      const k = `w${++seq}`
      const started = Date.now()
      const res = await b.client.get(`/?k=${k}`).catch(() => undefined)
      b.slowest = Math.max(b.slowest, Date.now() - started)
      if (res?.status === 200) b.acked.push(k)
      else {
        b.failed++
        await sleep(20)
      }
    }
  })
  return async () => {
    running = false
    await Promise.all(loops)
  }
}

for (const mode of ['fast', 'immediate'] as const) {
  t.test(`a ${mode} restart of the server under load loses no acknowledged write`, async (t) => {
    const browsers: Browser[] = []
    for (let i = 0; i < 20; i++) {
      const client = new Client(app.url)
      const first = await client.get('/?k=start')
      t.equal(first.status, 200)
      browsers.push({ client, acked: ['start'], failed: 0, slowest: 0 })
    }
    const stop = load(browsers)
    await sleep(1000)
    const ackedBefore = browsers.reduce((n, b) => n + b.acked.length, 0)
    await pgCtl('stop', mode)
    await sleep(1500)
    const failedWhileDown = browsers.reduce((n, b) => n + b.failed, 0)
    await pgCtl('start')
    await sleep(2000) // the app recovers by itself: same process, same pool, same store
    for (const b of browsers) b.failed = 0
    await sleep(1000)
    const failedAfter = browsers.reduce((n, b) => n + b.failed, 0)
    await stop()

    const acked = browsers.reduce((n, b) => n + b.acked.length, 0)
    t.ok(ackedBefore > 20, `writes were acknowledged before the stop (${ackedBefore})`)
    t.ok(failedWhileDown > 0, `requests failed while the server was down (${failedWhileDown})`)
    t.equal(failedAfter, 0, 'once it is back, requests succeed again without restarting the app')
    t.ok(acked > ackedBefore + 20, `writes were acknowledged after the restart (${acked} in all)`)
    const slowest = Math.max(...browsers.map((b) => b.slowest))
    t.ok(slowest < storeTimeout + 2000, `no request hung: the slowest answered in ${slowest} ms (storeTimeout ${storeTimeout})`)

    let lost = 0
    for (const b of browsers) {
      const keys = new Set(JSON.parse((await b.client.get('/')).body) as string[])
      lost += b.acked.filter((k) => !keys.has(k)).length
    }
    t.equal(lost, 0, `0 of ${acked} acknowledged writes lost`)
  })
}
