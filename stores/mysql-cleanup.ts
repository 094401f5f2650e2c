/**
 * Expired-row cleanup for `MySQLStore`: batched deletes under a server user lock, so
 * that however many app processes share the table, at most one of them deletes at a
 * time (per server: on Galera, user locks are node-local — see docs/stores/mysql.md).
 */
import { createHash } from 'node:crypto'
import type { MySQLClient } from './mysql-client.js'
import { runCleanup, type CleanupResult } from './sql-cleanup.js'

export { CleanupTimer, type CleanupResult } from './sql-cleanup.js'

/** Settings of a cleanup pass. */
export interface CleanupPlan {
  /** Quoted table name. */
  table: string
  /** Name of the user lock (`GET_LOCK`) that admits one cleaner at a time. */
  lock: string
  /** Rows per DELETE. */
  batch: number
  /** Current time in ms (rows with `expiry` before it go). */
  now: () => number
  /** Checked between batches: a closing store stops early. */
  stopped: () => boolean
}

/**
 * The user-lock name of a table's cleaner: the same for every process using the same
 * database and table, and within the 64 characters `GET_LOCK` allows.
 */
export function cleanupLockName(database: string, table: string): string {
  const digest = createHash('sha256').update(`${database}.${table}`).digest('hex')
  return `session-manager:cleanup:${digest.slice(0, 32)}`
}

/**
 * One pass: take the lock without waiting (`GET_LOCK(name, 0)`), then
 * `DELETE … WHERE expiry < now LIMIT batch` until a batch comes back short. The lock
 * lives on one connection held for the whole pass, and is released on it; if the
 * connection dies, the server releases the lock itself.
 */
export function cleanupPass(client: MySQLClient, plan: CleanupPlan): Promise<CleanupResult> {
  return client.withConnection((run) =>
    runCleanup({
      batch: plan.batch,
      stopped: plan.stopped,
      async lock() {
        const [row] = (await run('SELECT GET_LOCK(?, 0) AS got', [plan.lock])) as { got: unknown }[]
        return Number(row?.got) === 1
      },
      async deleteBatch() {
        const header = (await run(
          `DELETE FROM ${plan.table} WHERE expiry < ? ORDER BY expiry LIMIT ?`,
          [plan.now(), plan.batch],
        )) as { affectedRows: number }
        return header.affectedRows
      },
      async unlock() {
        await run('SELECT RELEASE_LOCK(?)', [plan.lock])
      },
    }),
  )
}
