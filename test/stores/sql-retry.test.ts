/**
 * The retry-window suite (test/helpers/retry-suite.ts) on the SQL stores: MySQLStore on
 * the machine's MariaDB and PostgresStore on its PostgreSQL, each on a pool connected
 * through a TCP proxy, with `retryWindow: 4000` (their default is one retry). A
 * versioned commit whose answer was lost is recognised by `OR version = next`.
 */
import t from 'tap'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { MySQLStore } from '../../stores/mysql.js'
import { PostgresStore } from '../../stores/postgres.js'
import { mariadb, mysqlUrl } from '../helpers/mariadb.js'
import { postgres, postgresUrl } from '../helpers/postgres.js'
import { retrySuite } from '../helpers/retry-suite.js'
import { tcpProxy } from '../helpers/tcp-proxy.js'

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString())
const proxied = async (url: string, fallbackPort: number) => {
  const u = new URL(url)
  const proxy = await tcpProxy(u.hostname, Number(u.port || fallbackPort))
  t.teardown(proxy.close)
  u.port = new URL(proxy.url).port
  return { proxy, url: u.toString() }
}

const my = await mariadb(t, 'retry', 2)
const pgs = await postgres(t, 'retry', 2)
if (my !== undefined && pgs !== undefined) {
  const direct = new MySQLStore(my.pool, { table: my.table, createTable: true, cleanupInterval: 0 })
  await direct.ready
  const viaMy = await proxied(mysqlUrl, 3306)
  const pool = mysql.createPool({ uri: viaMy.url, connectionLimit: 4, connectTimeout: 1000 })
  t.teardown(() => pool.end())
  retrySuite(t, 'MySQLStore', {
    store: new MySQLStore(pool, { table: my.table, cleanupInterval: 0, retryWindow: 4000 }),
    proxy: viaMy.proxy,
    stored: async (key) => text(await direct.find(key)),
  })

  const directPg = new PostgresStore(pgs.pool, { table: pgs.table, createTable: true, cleanupInterval: 0 })
  await directPg.ready
  const viaPg = await proxied(postgresUrl, 5432)
  const pgPool = new pg.Pool({ connectionString: viaPg.url, max: 4, connectionTimeoutMillis: 1000 })
  pgPool.on('error', () => {})
  t.teardown(() => pgPool.end())
  retrySuite(t, 'PostgresStore', {
    store: new PostgresStore(pgPool, { table: pgs.table, cleanupInterval: 0, retryWindow: 4000 }),
    proxy: viaPg.proxy,
    stored: async (key) => text(await directPg.find(key)),
  })
}
