/**
 * PostgresStore's table: created on demand (with its indexes, in a schema of its own if
 * asked, by several processes at once without tripping), checked at startup (a missing
 * table, column, NOT NULL or index is a clear ConfigError before any request), its names
 * and options validated; createStore('postgres://…'); an unreachable server rejects fast.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import pg from 'pg'
import { ConfigError } from '../../lib/errors.js'
import { createTableSql, PostgresStore } from '../../stores/postgres.js'
import { createStore } from '../../stores/url.js'
import { freshTable, postgresUrl } from '../helpers/postgres.js'
import { freePort, reachable } from '../helpers/service.js'

const pool = new pg.Pool({ connectionString: postgresUrl, max: 10, connectionTimeoutMillis: 3000 })
const tables: string[] = []
const schemas: string[] = []
const fresh = (tag: string) => {
  const name = freshTable(tag)
  tables.push(name)
  return name
}
t.teardown(async () => {
  for (const name of tables) await pool.query(`DROP TABLE IF EXISTS "${name}"`).catch(() => {})
  for (const name of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`).catch(() => {})
  await pool.end()
})
if (!(await reachable(t, `PostgreSQL at ${postgresUrl}`, () => pool.query('SELECT 1')))) process.exit()

const later = () => new Date(Date.now() + 60_000)
const quiet = { cleanupInterval: 0 }

t.test('PostgresStore createTable creates the table and its indexes', async (t) => {
  const table = fresh('create')
  const store = await PostgresStore.create(pool, { table, createTable: true, ...quiet })
  const cols = await pool.query('SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY 1', [table])
  t.same(cols.rows.map((r) => r.column_name), ['data', 'expiry', 'id', 'user_id', 'version'])
  const idx = await pool.query('SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname', [table])
  const defs = idx.rows.map((r) => String(r.indexdef)).join('\n')
  t.match(defs, /UNIQUE INDEX .* \(id\)/, 'id is the primary key')
  t.match(defs, /\(expiry\)/, 'expiry is indexed')
  t.match(defs, /\(user_id, expiry\) WHERE \(user_id IS NOT NULL\)/, 'user_id is indexed (partial)')
  await store.commit('k', new Uint8Array([1, 2, 3]), later())
  t.same([...((await store.find('k')) ?? [])], [1, 2, 3], 'the created table works')
  const again = await PostgresStore.create(pool, { table, createTable: true, ...quiet })
  t.ok(await again.find('k'), 'createTable on an existing table is a no-op')
  await Promise.all([store.close(), again.close()])
})

t.test('PostgresStore createTable: five stores starting at once all come up', async (t) => {
  const table = fresh('race')
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, () => PostgresStore.create(pool, { table, createTable: true, ...quiet })),
  )
  t.same(results.map((r) => r.status), Array(5).fill('fulfilled'), JSON.stringify(results.filter((r) => r.status === 'rejected')))
  for (const r of results) if (r.status === 'fulfilled') await r.value.close()
})

t.test('PostgresStore with a schema creates and uses it', async (t) => {
  const schema = `sm_${randomBytes(4).toString('hex')}`
  schemas.push(schema)
  const store = await PostgresStore.create(pool, { schema, table: 'sessions', createTable: true, ...quiet })
  await store.commit('k', Buffer.from('v'), later())
  const rows = await pool.query(`SELECT id FROM "${schema}"."sessions"`)
  t.same(rows.rows, [{ id: 'k' }], 'the row is in that schema, not in public')
  await store.close()
  await t.rejects(PostgresStore.create(pool, { schema: `${schema}_none`, ...quiet }), {
    code: 'ERR_CONFIG',
    message: new RegExp(`table "${schema}_none"."sessions" does not exist`),
  })
})

t.test('PostgresStore.ready rejects when the table is missing and createTable is off', async (t) => {
  const table = fresh('missing')
  const store = new PostgresStore(pool, { table, ...quiet })
  await t.rejects(store.ready, { code: 'ERR_CONFIG', message: /does not exist.*createTable: true/ })
  await t.rejects(store.find('x'), ConfigError, 'calls fail with the same error, not a SQL one')
  await t.rejects(PostgresStore.create(pool, { table }), { code: 'ERR_CONFIG' }, 'create rejects too')
})

t.test('PostgresStore.ready names what a hand-made table lacks', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['nouser', 'ALTER TABLE %t DROP COLUMN user_id', /column "user_id" is missing/],
    ['ts', 'ALTER TABLE %t ALTER COLUMN expiry TYPE timestamptz USING to_timestamp(expiry / 1000.0)', /column "expiry" is timestamp with time zone, expected bigint/],
    ['nullable', 'ALTER TABLE %t ALTER COLUMN data DROP NOT NULL', /column "data" must be NOT NULL/],
    ['nopk', 'ALTER TABLE %t DROP CONSTRAINT %t_pkey', /no primary key or unique index on \(id\)/],
    ['noexp', 'DROP INDEX %t_expiry_idx', /no index on \(expiry\)/],
    ['nouidx', 'DROP INDEX %t_user_idx', /no index on \(user_id, …\)/],
  ]
  for (const [tag, alter, message] of cases) {
    const table = fresh(tag)
    for (const statement of createTableSql(table).split(';\n')) await pool.query(statement)
    await pool.query(alter.replaceAll('%t', table).replace(`${table} `, `"${table}" `))
    await t.rejects(PostgresStore.create(pool, { table, ...quiet }), { code: 'ERR_CONFIG', message }, tag)
  }
})

t.test('PostgresStore rejects bad names and options at construction', async (t) => {
  for (const table of ['', 'x; DROP TABLE users', 'a.b', 'a"b', '1abc', 'x'.repeat(49), 'sess-ions']) {
    t.throws(() => new PostgresStore(pool, { table }), { code: 'ERR_CONFIG', message: /^invalid PostgresStore options: option table: expected a plain identifier/ }, JSON.stringify(table))
  }
  t.throws(() => new PostgresStore(pool, { schema: 'pub"lic' }), { code: 'ERR_CONFIG', message: /^invalid PostgresStore options: option schema: expected a plain identifier/ })
  t.throws(() => new PostgresStore(pool, { table: 7 as unknown as string }), { code: 'ERR_CONFIG' })
  t.throws(() => new PostgresStore(pool, { pageSize: 0 }), { code: 'ERR_CONFIG', message: 'invalid PostgresStore options: option pageSize: expected a whole number from 1 to 10000' })
  t.throws(() => new PostgresStore(pool, { queryTimeout: 2 ** 31 }), { code: 'ERR_CONFIG', message: /option queryTimeout: expected a whole number of ms from 0 to 2147483647$/ }, 'beyond the 32-bit timer limit')
  t.throws(() => new PostgresStore(pool, { retryWindow: -1 }), { code: 'ERR_CONFIG', message: /retryWindow/ })
  t.throws(() => new PostgresStore(pool, { cleanupInterval: 1.5 }), { code: 'ERR_CONFIG', message: /cleanupInterval/ })
  t.throws(() => new PostgresStore(pool, { createTable: 'yes' as unknown as boolean }), { code: 'ERR_CONFIG', message: /createTable/ })
  t.throws(() => new PostgresStore(pool, { tabel: 'x' } as never), { code: 'ERR_CONFIG', message: /^invalid PostgresStore options: unknown option tabel$/ })
  t.throws(() => new PostgresStore({} as never), { code: 'ERR_CONFIG', message: /needs a pg Pool/ })
  t.throws(() => new PostgresStore(null as never), { code: 'ERR_CONFIG' })
})

t.test('PostgresStore with the server down rejects fast', async (t) => {
  const down = new pg.Pool({ host: '127.0.0.1', port: await freePort(), user: 'postgres', connectionTimeoutMillis: 1000 })
  t.teardown(() => down.end())
  const store = new PostgresStore(down, quiet)
  const started = Date.now()
  await t.rejects(store.ready, { code: 'ECONNREFUSED' })
  await t.rejects(store.find('x'), { code: 'ECONNREFUSED' }, 'calls reject, retrying the check')
  t.ok(Date.now() - started < 3000, `rejected within ${Date.now() - started} ms`)
})

t.test('createStore postgres:// builds a working store on the named table and schema', async (t) => {
  const schema = `sm_${randomBytes(4).toString('hex')}`
  schemas.push(schema)
  const url = new URL(postgresUrl)
  url.protocol = 'postgresql:'
  url.search = `?table=url_sessions&schema=${schema}`
  const { store, close } = await createStore(url.toString())
  await store.commit('k', Buffer.from('v'), later())
  t.equal(Buffer.from((await store.find('k')) ?? []).toString(), 'v')
  const rows = await pool.query(`SELECT count(*)::int AS n FROM "${schema}"."url_sessions"`)
  t.equal(rows.rows[0].n, 1, 'in the table and schema of the URL')
  await close()
  await t.rejects(createStore(`postgres://postgres@127.0.0.1:${await freePort()}/test`), { code: 'ECONNREFUSED' }, 'a server that is down: a rejection, the pool ended')
})
