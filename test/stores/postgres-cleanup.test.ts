/**
 * PostgresStore's expired-row cleanup: batched deletes, one cleaner at a time across
 * processes (pg_try_advisory_lock), a timer that close() stops.
 */
import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { PostgresStore } from '../../stores/postgres.js'
import { postgres, postgresUrl } from '../helpers/postgres.js'

const db = await postgres(t, 'gc', 10)
if (db === undefined) process.exit()
const { pool, table } = db

/** Insert `n` rows directly, expired (or live) by `offset` ms. */
const seed = (tag: string, n: number, offset: number) =>
  pool.query(
    `INSERT INTO "${table}" (id, data, expiry, version) SELECT $1 || ':' || i, '\\x78', $2, i FROM generate_series(1, $3) AS i`,
    [tag, Date.now() + offset, n],
  )
const countRows = async (tag: string) =>
  Number((await pool.query(`SELECT count(*) AS n FROM "${table}" WHERE id LIKE $1`, [`${tag}:%`])).rows[0]?.n)
const make = (cleanupBatch = 200, cleanupInterval = 0) => PostgresStore.create(pool, { table, createTable: true, cleanupBatch, cleanupInterval })

t.test('PostgresStore.cleanup deletes expired rows in batches', async (t) => {
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

t.test('PostgresStore.cleanup skips at once while another session holds the lock', async (t) => {
  const store = await make(50)
  t.teardown(() => store.close())
  const lock = store.cleanupLock
  t.match(lock, /^-?\d+$/, 'the lock is a bigint key')
  const holder = await pool.connect()
  t.teardown(() => holder.release())
  await holder.query('SELECT pg_advisory_lock($1)', [lock])
  await seed('held', 300, -60_000)
  const started = Date.now()
  t.same(await store.cleanup(), { ran: false, deleted: 0, batches: 0 }, 'skipped while the lock is held')
  t.ok(Date.now() - started < 1000, 'without waiting for the lock')
  t.equal(await countRows('held'), 300, 'nothing deleted')
  await holder.query('SELECT pg_advisory_unlock($1)', [lock])
  t.equal((await store.cleanup()).ran, true, 'once released, the next pass runs')
  const left = await pool.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = ($1::bigint & 4294967295)::oid", [lock])
  t.equal(left.rows[0].n, 0, 'and releases the lock afterwards')
})

/** A cleaner process on this file's table; resolves once its table is checked. */
async function cleaner(batch: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/pg-cleaner.ts'], {
    env: { ...process.env, PG_URL: postgresUrl, TABLE: table, BATCH: String(batch) },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let out = ''
  const lines = new Promise<string[]>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => (out += c))
    child.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n')) : reject(new Error(`cleaner exited ${code}: ${out}`))))
  })
  while (!out.includes('ready')) await sleep(20)
  return { go: () => child.stdin.end('go\n'), result: async () => JSON.parse((await lines).at(-1) ?? '{}') as { ran: boolean; deleted: number; batches: number } }
}

t.test('PostgresStore.cleanup: two processes compete, exactly one deletes', async (t) => {
  for (let trial = 0; trial < 3; trial++) {
    await seed(`race${trial}`, 20_000, -60_000)
    const [a, b] = await Promise.all([cleaner(100), cleaner(100)])
    a.go()
    b.go()
    const results = await Promise.all([a.result(), b.result()])
    const ran = results.filter((r) => r.ran)
    t.equal(ran.length, 1, `trial ${trial}: one process ran, the other skipped: ${JSON.stringify(results)}`)
    t.ok((ran[0]?.deleted ?? 0) >= 20_000 && (ran[0]?.batches ?? 0) >= 200, 'the one that ran deleted all, in batches of 100')
    t.equal(results.find((r) => !r.ran)?.deleted, 0, 'the other deleted nothing')
    t.equal(await countRows(`race${trial}`), 0, 'no expired row left')
  }
})

t.test('PostgresStore cleanup timer runs, and close() stops it', async (t) => {
  const store = await make(100, 50)
  await seed('timer', 150, -60_000)
  for (let i = 0; i < 60 && (await countRows('timer')) > 0; i++) await sleep(50)
  t.equal(await countRows('timer'), 0, 'the timer cleaned up on its own')
  await store.close()
  await seed('after', 20, -60_000)
  await sleep(300)
  t.equal(await countRows('after'), 20, 'after close(), nothing more is deleted')
  t.ok(await pool.query('SELECT 1'), "the user's pool is still open after close()")
})

t.test('PostgresStore cleanup timer: an error goes to onCleanupError, and the next pass runs', async (t) => {
  const errors: unknown[] = []
  const store = await PostgresStore.create(pool, { table, cleanupInterval: 30, cleanupBatch: 100, queryTimeout: 150, onCleanupError: (e) => errors.push(e) })
  t.teardown(() => store.close())
  await seed('recover', 50, -60_000)
  const holder = await pool.connect()
  // A lock on the table makes the DELETE wait past the statement timeout: failing passes.
  await holder.query('BEGIN')
  await holder.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`)
  for (let i = 0; i < 60 && errors.length === 0; i++) await sleep(50)
  await holder.query('ROLLBACK')
  holder.release()
  t.match(errors[0], { code: '57014' }, 'a failed pass reported its error (statement timeout on the server)')
  t.equal(await countRows('recover') > 0, true, 'nothing was deleted meanwhile')
  for (let i = 0; i < 60 && (await countRows('recover')) > 0; i++) await sleep(50)
  t.equal(await countRows('recover'), 0, 'a later pass cleaned up')
  const [conn] = (await pool.query('SHOW statement_timeout')).rows
  t.equal(conn?.statement_timeout, '0', "the pool's connections keep their own statement_timeout")
})
