/**
 * The machine's PostgreSQL (PG_URL, default postgres@127.0.0.1:5432/test) as a Postgres
 * test file uses it: a pg Pool and a table name of the file's own; at the end the table
 * is dropped and the pool ended. PG_PRIVATE_URL (default 127.0.0.1:5440, started by
 * scripts/up-postgres.sh) is the project's own instance, the one a test may restart.
 */
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import pg from 'pg'
import { reachable } from './service.js'

export const postgresUrl = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const privatePostgresUrl = process.env.PG_PRIVATE_URL ?? 'postgres://postgres@127.0.0.1:5440/test'

/** A table name for `tag` that no other run or file uses. */
export const freshTable = (tag: string) => `sessions_${tag}_${randomBytes(4).toString('hex')}`

/** The pool and table for `t`'s file, or undefined when Postgres is unreachable (failed in CI, skipped elsewhere). */
export async function postgres(
  t: Test,
  tag: string,
  max: number,
  url = postgresUrl,
): Promise<{ pool: pg.Pool; table: string } | undefined> {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 3000 })
  pool.on('error', () => {})
  const table = freshTable(tag)
  t.teardown(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => {})
    await pool.end()
  })
  return (await reachable(t, `PostgreSQL at ${url}`, () => pool.query('SELECT 1'))) ? { pool, table } : undefined
}
