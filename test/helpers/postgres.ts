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

/** Data directory of the private instance (scripts/up-postgres.sh). */
export const privateData = '/tmp/session-manager/postgres/data'

/**
 * `pg_ctl stop|start` on the private instance (as the postgres user when run as root),
 * waiting until it is done. Never used on the machine's shared 5432.
 */
export async function pgCtl(action: 'stop' | 'start', mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
  const { spawn } = await import('node:child_process')
  const { readdirSync } = await import('node:fs')
  const version = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b)).at(-1)
  const ctl = `/usr/lib/postgresql/${version}/bin/pg_ctl`
  const args = [ctl, '-D', privateData, '-w', '-t', '60', ...(action === 'stop' ? ['-m', mode] : ['-l', `${privateData}/../server.log`]), action]
  const [cmd, ...rest] = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...args] : args
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd ?? ctl, rest, { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (c: Buffer) => (err += c))
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl ${action} exited ${code}: ${err}`))))
  })
}
