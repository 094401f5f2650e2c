/**
 * PostgresStore round trips, counted by the server itself: on the project's private
 * instance (PG_PRIVATE_URL, with pg_stat_statements) the calls of every statement that
 * names this file's table are summed before and after each operation. A read is one
 * query, a commit one statement; through the manager over HTTP an anonymous request
 * costs none, a read-only request one, a new session one and a modifying request two.
 */
import t from 'tap'
import { SessionManager } from '../../lib/index.js'
import { PostgresStore } from '../../stores/postgres.js'
import { takeTurns } from '../helpers/exclusive.js'
import { Client, counterApp, listen } from '../helpers/http.js'
import { postgres, privatePostgresUrl } from '../helpers/postgres.js'

await takeTurns(t, 'postgres-private')
const db = await postgres(t, 'rt', 4, privatePostgresUrl)
if (db === undefined) process.exit()
const { pool, table } = db

const store = await PostgresStore.create(pool, { table, createTable: true, cleanupInterval: 0, pageSize: 10 })
t.teardown(() => store.close())

/** Statements naming this file's table that the server has executed so far. */
const executed = async () => {
  const r = await pool.query(
    "SELECT coalesce(sum(calls), 0)::int AS n FROM pg_stat_statements WHERE query LIKE '%' || $1 || '%' AND query NOT LIKE '%pg_stat_statements%'",
    [table],
  )
  return Number(r.rows[0]?.n)
}
/** Statements of the store while `work` ran. */
const count = async (work: () => Promise<unknown>) => {
  const before = await executed()
  await work()
  return (await executed()) - before
}
const later = () => new Date(Date.now() + 60_000)
const data = new TextEncoder().encode('payload')

t.test('PostgresStore round trips', async (t) => {
  t.equal(await count(async () => {}), 0, 'the probe itself is not counted')
  t.equal(await count(() => store.find('rt:missing')), 1, 'find of a missing key: 1 query')
  t.equal(await count(() => store.commitIfVersion('rt:a', data, later(), undefined)), 1, 'create a new session: 1 statement')
  t.equal(await count(() => store.commitIfVersion('rt:a', data, later(), undefined)), 1, 'create over a live row: 1 statement, a conflict')
  t.equal(await count(() => store.find('rt:a')), 1, 'find: 1 query')
  let entry = await store.findVersioned('rt:a')
  t.equal(await count(async () => (entry = await store.findVersioned('rt:a'))), 1, 'findVersioned: 1 query')
  let next: string | null = null
  t.equal(await count(async () => (next = await store.commitIfVersion('rt:a', data, later(), entry?.version))), 1, 'commit with a matching version: 1 statement')
  t.type(next, 'string')
  t.equal(await count(() => store.commitIfVersion('rt:a', data, later(), entry?.version)), 1, 'a stale version: 1 statement, a conflict')
  t.equal(await count(() => store.commit('rt:a', data, later())), 1, 'plain commit: 1 statement')
  t.equal(await count(() => store.touch('rt:a', later())), 1, 'touch: 1 statement')
  t.equal(await count(() => store.addToUser('u', 'rt:a', later())), 1, 'addToUser: 1 statement')
  t.equal(await count(() => store.listUser('u')), 1, 'listUser: 1 query')
  t.equal(await count(() => store.removeFromUser('u', 'rt:a')), 1, 'removeFromUser: 1 statement')
  t.equal(await count(() => store.delete('rt:a')), 1, 'delete: 1 statement')
  for (let i = 0; i < 25; i++) await store.commit(`rt:it:${String(i).padStart(2, '0')}`, data, later())
  let seen = 0
  t.equal(
    await count(async () => {
      for await (const _ of store.all('rt:it:')) seen++
    }),
    3,
    'all() of 25 rows, 10 per page: 3 queries',
  )
  t.equal(seen, 25)
})

t.test('SessionManager over PostgresStore: statements per HTTP request', async (t) => {
  const manager = new SessionManager({ store, prefix: 'http:', logger: { warn() {}, error() {} } })
  const server = await listen(counterApp(manager))
  t.teardown(server.close)
  const browser = new Client(server.url)
  t.equal(await count(() => browser.get('/')), 0, 'anonymous request: no statement')
  t.equal(await count(() => browser.get('/put')), 1, 'new session: one statement (create)')
  t.equal(await count(() => browser.get('/')), 1, 'read-only request: one query')
  t.equal(await count(() => browser.get('/put')), 2, 'modifying request: a read and one versioned commit')
  t.equal((await browser.get('/')).body, 'n=2')
})
