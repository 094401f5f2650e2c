/**
 * MySQLStore's expired-row cleanup: batched deletes, one cleaner at a time (the
 * server's GET_LOCK), a timer that close() stops.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { MySQLStore } from '../../stores/mysql.js'
import { mariadb } from '../helpers/mariadb.js'

const db = await mariadb(t, 'gc', 10)
if (db === undefined) process.exit()
const { pool, table } = db

/** Insert `n` rows directly, expired (or live) by `offset` ms. */
const seed = async (tag: string, n: number, offset: number) => {
  const rows = Array.from({ length: n }, (_, i) => [`${tag}:${i}`, Buffer.from('x'), Date.now() + offset, i + 1])
  for (let i = 0; i < rows.length; i += 1000) {
    await pool.query(`INSERT INTO ?? (id, data, expiry, version) VALUES ?`, [table, rows.slice(i, i + 1000)])
  }
}
const countRows = async (tag: string) => {
  const [rows] = (await pool.query('SELECT COUNT(*) AS n FROM ?? WHERE id LIKE ?', [table, `${tag}:%`])) as unknown as [{ n: number }[]]
  return Number(rows[0]?.n)
}
const make = (cleanupBatch = 200, cleanupInterval = 0) =>
  MySQLStore.create(pool, { table, createTable: true, cleanupBatch, cleanupInterval })

t.test('MySQLStore.cleanup deletes expired rows in batches', async (t) => {
  const store = await make(200)
  t.teardown(() => store.close())
  await seed('old', 2100, -60_000)
  await seed('live', 50, 60_000)
  const result = await store.cleanup()
  t.ok(result.ran, 'it took the lock')
  t.ok(result.deleted >= 2100, `deleted ${result.deleted}`)
  t.ok(result.batches >= 11, `in ${result.batches} DELETEs of at most 200 rows`)
  t.equal(await countRows('old'), 0, 'no expired row left')
  t.equal(await countRows('live'), 50, 'live rows untouched')
})

t.test('MySQLStore.cleanup: one cleaner at a time', async (t) => {
  const [a, b] = await Promise.all([make(50), make(50)])
  t.teardown(() => Promise.all([a.close(), b.close()]))
  t.equal(a.cleanupLock, b.cleanupLock, 'two stores on one table share the lock name')
  t.ok((a.cleanupLock ?? '').length <= 64, 'the lock name fits GET_LOCK')

  // Another process holds the lock: this store does nothing and does not wait.
  const holder = await pool.getConnection()
  t.teardown(() => holder.release())
  await holder.query('SELECT GET_LOCK(?, 10)', [a.cleanupLock])
  await seed('held', 300, -60_000)
  const started = Date.now()
  t.same(await a.cleanup(), { ran: false, deleted: 0, batches: 0 }, 'skipped while the lock is held')
  t.ok(Date.now() - started < 1000, 'without waiting for the lock')
  t.equal(await countRows('held'), 300, 'nothing deleted')
  await holder.query('SELECT RELEASE_LOCK(?)', [a.cleanupLock])

  // Two passes started together: exactly one works, and the lock is free afterwards.
  await seed('race', 3000, -60_000)
  const results = await Promise.all([a.cleanup(), b.cleanup()])
  t.equal(results.filter((r) => r.ran).length, 1, `one ran: ${JSON.stringify(results)}`)
  t.equal(results.find((r) => !r.ran)?.deleted, 0, 'the other deleted nothing')
  t.equal(await countRows('race'), 0, 'the one that ran deleted everything')
  const [[free]] = (await pool.query('SELECT IS_FREE_LOCK(?) AS free', [a.cleanupLock])) as unknown as [[{ free: number }]]
  t.equal(free.free, 1, 'the lock was released')
})

t.test('MySQLStore cleanup timer runs, and close() stops it', async (t) => {
  const store = await make(100, 50)
  await seed('timer', 150, -60_000)
  for (let i = 0; i < 40 && (await countRows('timer')) > 0; i++) await sleep(50)
  t.equal(await countRows('timer'), 0, 'the timer cleaned up on its own')
  await store.close()
  await seed('after', 20, -60_000)
  await sleep(300)
  t.equal(await countRows('after'), 20, 'after close(), nothing more is deleted')
  t.ok(await pool.query('SELECT 1'), 'the user\'s pool is still open after close()')
})
