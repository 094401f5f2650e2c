/**
 * MySQLStore on the Galera cluster (scripts/up-galera.sh), through SessionManager over
 * real HTTP with a cookie jar: a session written through an app on one node is read
 * through an app on another, and an app on a PoolCluster keeps serving while a node is
 * SIGKILLed under load — every acknowledged response's write survives — then the node
 * rejoins.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import mysql from 'mysql2/promise'
import { SessionManager, type Logger } from '../../lib/index.js'
import { MySQLStore } from '../../stores/mysql.js'
import { Client, listen } from '../helpers/http.js'
import { galera } from '../helpers/galera.js'

const g = await galera(t, 'http')
if (g === undefined) process.exit()
const { pools, cluster, table, status, pidOf, up: upGalera } = g
const clusterSize = async (i: number) => Number(await status(i, 'wsrep_cluster_size'))
const silent = { warn() {}, error() {} }
/** Errors the apps logged, counted by `code: message`, so a failure says what went wrong. */
const logged = new Map<string, number>()
const counting = {
  warn() {},
  error(_msg: string, err?: unknown) {
    const e = err as { code?: string; message?: string } | undefined
    const key = `${e?.code ?? '?'}: ${e?.message ?? String(err)}`
    logged.set(key, (logged.get(key) ?? 0) + 1)
  },
}

/** An app counting visits: `/inc` adds one and answers the new count, `/read` only reads. */
const app = async (store: MySQLStore, logger: Logger = silent) => {
  const manager = new SessionManager({ store, lifetime: '1h', storeTimeout: 10_000, logger })
  const running = await listen(
    manager.loadAndSave((req: IncomingMessage, res: ServerResponse) => {
      const visits = manager.getNumber(req, 'visits') + (req.url === '/inc' ? 1 : 0)
      if (req.url === '/inc') manager.put(req, 'visits', visits)
      res.end(String(visits))
    }),
  )
  t.teardown(running.close)
  return running
}
const store = async (db: mysql.Pool | mysql.PoolCluster) => {
  const s = await MySQLStore.create(db, { table, createTable: true, cleanupInterval: 0 })
  t.teardown(() => s.close())
  return s
}
/** A client for `url` holding the same cookies as `from` (one browser, two apps). */
const sameBrowser = (from: Client, url: string) => {
  const client = new Client(url)
  for (const [k, v] of from.jar) client.jar.set(k, v)
  return client
}

t.test('MySQLStore on Galera over HTTP: each request read through another node sees the last write', async (t) => {
  const apps = await Promise.all(pools.map(async (p) => app(await store(p))))
  let browser = new Client(apps[0]!.url)
  const bodies: string[] = []
  for (let i = 0; i < 60; i++) {
    browser = sameBrowser(browser, apps[i % 3]!.url)
    bodies.push((await browser.get('/inc')).body)
  }
  t.same(bodies, Array.from({ length: 60 }, (_, i) => String(i + 1)), 'visits 1..60, each node in turn')
  t.equal((await sameBrowser(browser, apps[1]!.url).get('/read')).body, '60')
})

t.test('MySQLStore on a PoolCluster over HTTP keeps serving while a node is SIGKILLed', async (t) => {
  const served = await app(await store(cluster), counting)
  const acked: number[] = []
  const browsers: Client[] = []
  const failures = new Map<string, number>()
  let slowest = 0
  let stop = false
  const user = async (u: number) => {
    const browser = (browsers[u] = new Client(served.url))
    acked[u] = 0
    while (!stop) {
      const started = Date.now()
      const reply = await browser.get('/inc').catch((err: Error) => ({ status: 0, body: err.message }))
      slowest = Math.max(slowest, Date.now() - started)
      if (reply.status === 200) acked[u] = Number(reply.body)
      else failures.set(`${reply.status} ${reply.body}`, (failures.get(`${reply.status} ${reply.body}`) ?? 0) + 1)
    }
  }
  const load = Array.from({ length: 30 }, (_, u) => user(u))
  await sleep(1000)
  const killedAt = Date.now()
  process.kill(pidOf(2), 'SIGKILL')
  let eviction = -1
  while (Date.now() - killedAt < 15_000) {
    if ((await clusterSize(0).catch(() => 0)) === 2) {
      eviction = Date.now() - killedAt
      break
    }
    await sleep(50)
  }
  await sleep(3000)
  stop = true
  await Promise.all(load)
  const failed = [...failures.values()].reduce((a, b) => a + b, 0)
  const total = acked.reduce((a, b) => a + b, 0)
  console.log(
    `# galera over HTTP: ${total} acknowledged writes by 30 clients, ${failed} failed requests, ` +
      `slowest request ${slowest} ms, eviction ${eviction} ms after SIGKILL`,
  )
  t.ok(eviction > 0, `node 2 evicted ${eviction} ms after SIGKILL`)
  t.same(Object.fromEntries(failures), {}, 'no request failed')
  t.same(Object.fromEntries(logged), {}, 'no store error logged')

  // Each browser's count, read through an app on a surviving node, is at least what it was told.
  const reader = await app(await store(pools[2]!))
  let lost = 0
  for (const [u, browser] of browsers.entries()) {
    if (Number((await sameBrowser(browser, reader.url).get('/read')).body) < (acked[u] ?? 0)) lost++
  }
  t.equal(lost, 0, 'zero lost acknowledged writes')

  const restart = Date.now()
  await upGalera()
  t.equal(await clusterSize(1), 3, `node 2 rejoined ${Date.now() - restart} ms after restart`)
  const rejoined = await app(await store(pools[1]!))
  let missing = 0
  for (const [u, browser] of browsers.entries()) {
    if (Number((await sameBrowser(browser, rejoined.url).get('/read')).body) < (acked[u] ?? 0)) missing++
  }
  t.equal(missing, 0, 'the rejoined node serves every acknowledged write')
})
