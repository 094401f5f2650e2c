/**
 * MySQLStore's table: created on demand, checked at startup (a missing table or column
 * is a clear ConfigError before any request), and its name validated. Also: an
 * unreachable database rejects `ready` quickly (recovery is in mysql-galera.test.ts).
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import mysql from 'mysql2/promise'
import { ConfigError } from '../../lib/errors.js'
import { createTableSql, MySQLStore } from '../../stores/mysql.js'
import { mysqlUrl } from '../helpers/mariadb.js'
import { reachable } from '../helpers/service.js'

const url = mysqlUrl
const pool = mysql.createPool({ uri: url, connectionLimit: 5, connectTimeout: 3000 })
const tables: string[] = []
const fresh = (tag: string) => {
  const name = `sessions_${tag}_${randomBytes(4).toString('hex')}`
  tables.push(name)
  return name
}

t.teardown(async () => {
  for (const name of tables) await pool.query(`DROP TABLE IF EXISTS \`${name}\``).catch(() => {})
  await pool.end()
})

if (!(await reachable(t, `MariaDB at ${url}`, () => pool.query('SELECT 1')))) process.exit()

const columns = async (table: string) =>
  ((await pool.query('SHOW COLUMNS FROM ??', [table]))[0] as { Field: string }[]).map((c) => c.Field)

t.test('MySQLStore createTable creates the table, with its indexes', async (t) => {
  const table = fresh('create')
  const store = await MySQLStore.create(pool, { table, createTable: true, cleanupInterval: 0 })
  t.same((await columns(table)).sort(), ['data', 'expiry', 'id', 'user_id', 'version'])
  const [keys] = (await pool.query('SHOW INDEX FROM ??', [table])) as unknown as [{ Key_name: string; Column_name: string }[]]
  const indexed = new Set(keys.filter((k) => k.Key_name !== 'PRIMARY').map((k) => k.Column_name))
  t.ok(indexed.has('expiry') && indexed.has('user_id'), 'expiry and user_id are indexed')
  await store.commit('k', new Uint8Array([1, 2, 3]), new Date(Date.now() + 60_000))
  t.same([...((await store.find('k')) ?? [])], [1, 2, 3], 'the created table works')
  const again = await MySQLStore.create(pool, { table, createTable: true, cleanupInterval: 0 })
  t.ok(await again.find('k'), 'createTable on an existing table is a no-op')
  await Promise.all([store.close(), again.close()])
})

t.test('MySQLStore.ready rejects when the table is missing and createTable is off', async (t) => {
  const table = fresh('missing')
  const store = new MySQLStore(pool, { table, cleanupInterval: 0 })
  await t.rejects(store.ready, { code: 'ERR_CONFIG', message: /does not exist.*createTable: true/ })
  await t.rejects(store.find('x'), ConfigError, 'calls fail with the same error, not a SQL one')
  await t.rejects(MySQLStore.create(pool, { table }), { code: 'ERR_CONFIG' }, 'create rejects too')
})

t.test('MySQLStore.ready rejects a table that lacks a column', async (t) => {
  const table = fresh('nouser')
  await pool.query(createTableSql(table))
  await pool.query('ALTER TABLE ?? DROP COLUMN user_id', [table])
  await t.rejects(MySQLStore.create(pool, { table, cleanupInterval: 0 }), {
    code: 'ERR_CONFIG',
    message: /column `user_id` is missing/,
  })
  await pool.query('ALTER TABLE ?? ADD COLUMN user_id VARCHAR(255) NULL, MODIFY expiry DATETIME(3) NOT NULL', [table])
  await t.rejects(MySQLStore.create(pool, { table, cleanupInterval: 0 }), {
    code: 'ERR_CONFIG',
    message: /column `expiry` is datetime, expected bigint/,
  }, 'a mistyped column is named too')
})

t.test('MySQLStore rejects a bad table name at construction', async (t) => {
  for (const table of ['', 'x; DROP TABLE users', 'a.b', 'a`b', '1abc', 'x'.repeat(65), 'sess-ions']) {
    t.throws(() => new MySQLStore(pool, { table }), { code: 'ERR_CONFIG' }, JSON.stringify(table))
  }
  t.throws(() => new MySQLStore(pool, { table: 7 as unknown as string }), { code: 'ERR_CONFIG' })
  t.throws(() => new MySQLStore(pool, { pageSize: 0 }), { code: 'ERR_CONFIG', message: /pageSize/ })
  t.throws(() => new MySQLStore(pool, { syncWait: 99 }), { code: 'ERR_CONFIG', message: /syncWait/ })
  t.throws(() => new MySQLStore(pool, { retryWindow: -1 }), { code: 'ERR_CONFIG', message: /retryWindow/ })
  t.throws(() => new MySQLStore(pool, { queryTimeout: 2 ** 31 }), { name: 'ConfigError', code: 'ERR_CONFIG', message: /^invalid MySQLStore options: option queryTimeout: expected a whole number of ms from 0 to 2147483647$/ }, 'beyond the 32-bit timer limit')
  t.throws(() => new MySQLStore(pool, { tabel: 'x' } as never), { name: 'ConfigError', code: 'ERR_CONFIG', message: /^invalid MySQLStore options: unknown option tabel$/ }, 'an unknown option is named')
})

t.test('MySQLStore with the database down rejects fast', async (t) => {
  // Nothing listens on port 1: every connection is refused at once.
  const down = mysql.createPool({ host: '127.0.0.1', port: 1, user: 'root', connectTimeout: 1000 })
  t.teardown(() => down.end())
  const store = new MySQLStore(down, { cleanupInterval: 0 })
  const started = Date.now()
  await t.rejects(store.ready, { code: 'ECONNREFUSED' })
  await t.rejects(store.find('x'), { code: 'ECONNREFUSED' }, 'calls reject, retrying the check')
  t.ok(Date.now() - started < 3000, `rejected within ${Date.now() - started} ms`)
})
