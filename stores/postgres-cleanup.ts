/**
 * Expired-row cleanup for `PostgresStore`: batched deletes under a session-level
 * advisory lock (`pg_try_advisory_lock`), so that however many app processes share the
 * table, at most one of them deletes at a time; the others skip their pass at once.
 */
import type { PostgresClient } from './postgres-client.js'
import { runCleanup, type CleanupResult } from './sql-cleanup.js'

export { CleanupTimer, type CleanupResult } from './sql-cleanup.js'

/** Settings of a cleanup pass. */
export interface CleanupPlan {
  /** Quoted, qualified table name. */
  table: string
  /** The advisory-lock key (a bigint, as a string) that admits one cleaner at a time. */
  lock: string
  /** Rows per DELETE. */
  batch: number
  /** Current time in ms (rows with `expiry` before it go). */
  now: () => number
  /** Checked between batches: a closing store stops early. */
  stopped: () => boolean
  /** Server-side `statement_timeout` of the pass's statements in ms (0: none). */
  timeout: number
}

/**
 * One pass: try the lock without waiting, then delete up to `batch` expired rows per
 * statement (oldest first, through the expiry index) until a batch comes back short.
 * The lock belongs to the pass's own connection and is released on it; if that
 * connection dies, the server releases the lock itself. Rows another transaction is
 * writing are skipped (`SKIP LOCKED`), so cleanup never waits on a live request. The
 * pass bounds its statements on the server (`statement_timeout`, reset before the
 * connection goes back to the pool): a client-side timeout alone would leave a stuck
 * DELETE running there, holding the lock.
 */
export function cleanupPass(client: PostgresClient, plan: CleanupPlan): Promise<CleanupResult> {
  return client.withConnection((run) =>
    runCleanup({
      batch: plan.batch,
      stopped: plan.stopped,
      async lock() {
        const got = await run('SELECT pg_try_advisory_lock($1) AS got', [plan.lock])
        if ((got.rows[0] as { got?: boolean } | undefined)?.got !== true) return false
        try {
          await run("SELECT set_config('statement_timeout', $1, false)", [String(plan.timeout)])
        } catch (err) {
          await run('SELECT pg_advisory_unlock($1)', [plan.lock]).catch(() => {})
          throw err
        }
        return true
      },
      async deleteBatch() {
        const deleted = await run(
          `DELETE FROM ${plan.table} WHERE id IN ` +
            `(SELECT id FROM ${plan.table} WHERE expiry < $1 ORDER BY expiry LIMIT $2 FOR UPDATE SKIP LOCKED)`,
          [plan.now(), plan.batch],
        )
        return deleted.rowCount ?? 0
      },
      async unlock() {
        await run('RESET statement_timeout')
        await run('SELECT pg_advisory_unlock($1)', [plan.lock])
      },
    }),
  )
}
