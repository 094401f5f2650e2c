/**
 * MySQLStore round trips, counted by the server itself: on a one-connection pool, the
 * session's `Questions` counter (statements received) is read before and after each
 * operation. A read is one query; a matching commit is one statement.
 */
import t from 'tap'
import { MySQLStore } from '../../stores/mysql.js'
import { mariadb } from '../helpers/mariadb.js'

// One connection: every statement of the store and of the probe goes through it.
const db = await mariadb(t, 'rt', 1)
if (db === undefined) process.exit()
const { pool, table } = db

const store = await MySQLStore.create(pool, { table, createTable: true, cleanupInterval: 0, pageSize: 10 })
t.teardown(() => store.close())

const questions = async () => {
  const [rows] = (await pool.query("SHOW SESSION STATUS LIKE 'Questions'")) as unknown as [{ Value: string }[]]
  return Number(rows[0]?.Value)
}
// The probe itself counts: measure its own cost once and subtract it.
const overhead = -((await questions()) - (await questions()))
/** Statements the server received while `work` ran. */
const count = async (work: () => Promise<unknown>) => {
  const before = await questions()
  await work()
  return (await questions()) - before - overhead
}
const later = () => new Date(Date.now() + 60_000)
const data = new TextEncoder().encode('payload')

t.test('MySQLStore round trips', async (t) => {
  t.equal(overhead, 1, 'the probe costs one statement')
  t.equal(await count(() => store.find('rt:missing')), 1, 'find of a missing key: 1 query')
  t.equal(await count(() => store.commitIfVersion('rt:a', data, later(), undefined)), 1, 'create a new session: 1 statement')
  t.equal(await count(() => store.find('rt:a')), 1, 'find: 1 query')
  let entry = await store.findVersioned('rt:a')
  t.equal(await count(async () => (entry = await store.findVersioned('rt:a'))), 1, 'findVersioned: 1 query')
  let next: string | null = null
  t.equal(
    await count(async () => (next = await store.commitIfVersion('rt:a', data, later(), entry?.version))),
    1,
    'commit with a matching version: 1 statement',
  )
  t.type(next, 'string')
  t.equal(await count(() => store.commitIfVersion('rt:a', data, later(), entry?.version)), 1, 'a stale version: 1 statement, a conflict')
  t.equal(await count(() => store.commit('rt:a', data, later())), 1, 'plain commit: 1 statement')
  t.equal(await count(() => store.touch('rt:a', later())), 1, 'touch: 1 statement')
  t.equal(await count(() => store.addToUser('u', 'rt:a', later())), 1, 'addToUser: 1 statement')
  t.equal(await count(() => store.listUser('u')), 1, 'listUser: 1 query')
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

t.test('MySQLStore statement kinds, from Com_* counters', async (t) => {
  const com = async () => {
    const [rows] = (await pool.query("SHOW SESSION STATUS WHERE Variable_name IN ('Com_select','Com_update','Com_insert')")) as unknown as [
      { Variable_name: string; Value: string }[],
    ]
    return Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)]))
  }
  const diff = async (work: () => Promise<unknown>) => {
    const a = await com()
    await work()
    const b = await com()
    return Object.fromEntries(Object.keys(b).map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)]))
  }
  const base = await diff(async () => {})
  const minus = (d: Record<string, number>) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v - (base[k] ?? 0)]))
  await store.commit('rt:k', data, later())
  const e = await store.findVersioned('rt:k')
  t.same(minus(await diff(() => store.find('rt:k'))), { Com_select: 1, Com_update: 0, Com_insert: 0 }, 'a read is one SELECT')
  t.same(
    minus(await diff(() => store.commitIfVersion('rt:k', data, later(), e?.version))),
    { Com_select: 0, Com_update: 1, Com_insert: 0 },
    'a versioned commit is one UPDATE, no SELECT first',
  )
})

t.test('SessionManager over MySQLStore: a user with 1,000 sessions', async (t) => {
  const { SessionManager } = await import('../../lib/index.js')
  const manager = new SessionManager({ store, prefix: 'rt-many:', logger: { warn() {}, error() {} } })
  for (let i = 0; i < 1000; i++) {
    const s = await manager.load(undefined)
    await manager.login(s, 'many')
    await manager.commit(s)
  }
  let listed = 0
  t.equal(await count(async () => (listed = (await manager.sessionsOf('many')).length)), 2, 'sessionsOf: listUser and one IN (…) SELECT')
  t.equal(listed, 1000)
  let revoked = 0
  t.equal(await count(async () => (revoked = await manager.revokeUser('many'))), 2, 'revokeUser: listUser and one IN (…) DELETE')
  t.equal(revoked, 1000)
  t.same(await manager.sessionsOf('many'), [])
})
