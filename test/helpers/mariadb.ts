/**
 * The machine's MariaDB (MYSQL_URL, default root@127.0.0.1:3306/test) as a MySQL test
 * file uses it: a promise pool and a table name of the file's own; at the end the table
 * is dropped and the pool ended.
 */
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import mysql from 'mysql2/promise'
import { reachable } from './service.js'

export const mysqlUrl = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

/** The pool and table for `t`'s file, or undefined when MariaDB is unreachable (failed in CI, skipped elsewhere). */
export async function mariadb(
  t: Test,
  tag: string,
  connectionLimit: number,
): Promise<{ pool: mysql.Pool; table: string } | undefined> {
  const pool = mysql.createPool({ uri: mysqlUrl, connectionLimit, connectTimeout: 3000 })
  const table = `sessions_${tag}_${randomBytes(4).toString('hex')}`
  t.teardown(async () => {
    await pool.query(`DROP TABLE IF EXISTS \`${table}\``).catch(() => {})
    await pool.end()
  })
  return (await reachable(t, `MariaDB at ${mysqlUrl}`, () => pool.query('SELECT 1'))) ? { pool, table } : undefined
}
