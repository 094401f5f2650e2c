/**
 * MySQLStore's retry window on a PoolCluster, against the machine's MariaDB through a
 * loopback TCP relay that is down at first: while every node is refused or offline
 * (`POOL_NONEONLINE`), statements are retried until `retryWindow` ends, so a database
 * that is back within the window answers them; past the window the last error is
 * reported. (A non-primary Galera spell is in mysql-galera.test.ts.)
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import mysql from 'mysql2/promise'
import { MySQLStore } from '../../stores/mysql.js'
import { mariadb, mysqlUrl } from '../helpers/mariadb.js'
import { freePort } from '../helpers/service.js'

const db = await mariadb(t, 'retry', 2)
if (db === undefined) process.exit()
const { pool, table } = db
const url = new URL(mysqlUrl)

const later = () => new Date(Date.now() + 60_000)
const seeded = await MySQLStore.create(pool, { table, createTable: true, cleanupInterval: 0 })
await seeded.commit('k', Buffer.from('kept'), later())

/** Forward `port` to the real server, as a database coming back would answer. */
const relayOn = async (port: number): Promise<() => void> => {
  const sockets = new Set<Socket>()
  const relay: Server = createServer((client) => {
    const server = connect(Number(url.port || 3306), url.hostname)
    for (const s of [client, server]) {
      sockets.add(s)
      s.on('error', () => {
        client.destroy()
        server.destroy()
      })
    }
    client.pipe(server).pipe(client)
  })
  await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve))
  return () => {
    relay.close()
    for (const s of sockets) s.destroy()
  }
}
const clusterOn = (port: number) => {
  const cluster = mysql.createPoolCluster({ restoreNodeTimeout: 200, removeNodeErrorCount: 1 })
  cluster.add('only', { host: '127.0.0.1', port, user: url.username || 'root', database: url.pathname.slice(1), connectTimeout: 1000 })
  return cluster
}

t.test('a PoolCluster whose every node is refused answers once one is back within retryWindow', async (t) => {
  const port = await freePort()
  const cluster = clusterOn(port)
  const store = new MySQLStore(cluster, { table, cleanupInterval: 0 })
  let stopRelay = () => {}
  t.teardown(async () => {
    await store.close()
    await cluster.end()
    stopRelay()
  })
  const started = Date.now()
  // Settled at once, so an early rejection is an assertion below, not an unhandled one.
  const read = store.find('k').then(
    (data) => Buffer.from(data ?? []).toString(),
    (err: unknown) => err,
  )
  await sleep(800) // refused, then offline (restoreNodeTimeout 200): POOL_NONEONLINE in between
  stopRelay = await relayOn(port)
  t.equal(await read, 'kept', 'the read issued while it was down answers')
  const took = Date.now() - started
  t.ok(took >= 800 && took < 5000, `answered ${took} ms after the first attempt (database back after 800 ms)`)
})

t.test('past retryWindow the error is reported', async (t) => {
  const cluster = clusterOn(await freePort())
  const store = new MySQLStore(cluster, { table, cleanupInterval: 0, retryWindow: 300 })
  t.teardown(async () => {
    await store.close()
    await cluster.end()
  })
  const started = Date.now()
  const err = await store.find('k').then(
    () => undefined,
    (e: unknown) => e as { code?: string },
  )
  const took = Date.now() - started
  t.match(err?.code, /^(ECONNREFUSED|POOL_NONEONLINE)$/, `rejected with ${err?.code}`)
  t.ok(took < 2000, `after ${took} ms (window 300 ms)`)
})
