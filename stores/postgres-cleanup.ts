/**
 * Expired-row cleanup for `PostgresStore`: batched deletes under a session-level
 * advisory lock (`pg_try_advisory_lock`), so that however many app processes share the
 * table, at most one of them deletes at a time; the others skip their pass at once.
 */
import type { PostgresClient } from './postgres-client.js'

/** What one cleanup pass did. */
export interface CleanupResult {
  /** False when another process held the lock, so this one did nothing. */
  ran: boolean
  /** Rows deleted. */
  deleted: number
  /** DELETE statements issued. */
  batches: number
}

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
  return client.withConnection(async (run) => {
    const got = await run('SELECT pg_try_advisory_lock($1) AS got', [plan.lock])
    const result: CleanupResult = { ran: (got.rows[0] as { got?: boolean } | undefined)?.got === true, deleted: 0, batches: 0 }
    if (!result.ran) return result
    try {
      await run("SELECT set_config('statement_timeout', $1, false)", [String(plan.timeout)])
      while (!plan.stopped()) {
        const deleted = await run(
          `DELETE FROM ${plan.table} WHERE id IN ` +
            `(SELECT id FROM ${plan.table} WHERE expiry < $1 ORDER BY expiry LIMIT $2 FOR UPDATE SKIP LOCKED)`,
          [plan.now(), plan.batch],
        )
        result.batches++
        result.deleted += deleted.rowCount ?? 0
        if ((deleted.rowCount ?? 0) < plan.batch) break
      }
    } finally {
      await run('RESET statement_timeout')
      await run('SELECT pg_advisory_unlock($1)', [plan.lock])
    }
    return result
  })
}

/**
 * Runs `pass` every `interval` ms on an unref'd timer (never keeping the process
 * alive), one pass at a time; errors go to `onError` and the next pass runs as usual.
 */
export class CleanupTimer {
  readonly #pass: () => Promise<unknown>
  readonly #interval: number
  readonly #onError: (err: unknown) => void
  #timer: NodeJS.Timeout | undefined
  #running: Promise<unknown> | undefined
  #stopped = false

  constructor(pass: () => Promise<unknown>, interval: number, onError: (err: unknown) => void) {
    this.#pass = pass
    this.#interval = interval
    this.#onError = onError
  }

  /** Schedule the next pass (a no-op once stopped, or when one is scheduled). */
  start(): void {
    if (this.#stopped || this.#timer !== undefined) return
    this.#timer = setTimeout(() => void this.#tick(), this.#interval)
    this.#timer.unref()
  }

  /** Stop the timer and wait for a running pass to end. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running
  }

  async #tick(): Promise<void> {
    this.#timer = undefined
    this.#running = this.#pass().catch((err: unknown) => {
      // A throwing error sink must not become an unhandled rejection.
      try {
        this.#onError(err)
      } catch {}
    })
    await this.#running
    this.#running = undefined
    this.start()
  }
}
