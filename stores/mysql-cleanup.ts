/**
 * Expired-row cleanup for `MySQLStore`: batched deletes under a server user lock, so
 * that however many app processes share the table, at most one of them deletes at a
 * time (per server: on Galera, user locks are node-local — see docs/stores/mysql.md).
 */
import { createHash } from 'node:crypto'
import type { MySQLClient } from './mysql-client.js'

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
  return client.withConnection(async (run) => {
    const [row] = (await run('SELECT GET_LOCK(?, 0) AS got', [plan.lock])) as { got: unknown }[]
    const result: CleanupResult = { ran: Number(row?.got) === 1, deleted: 0, batches: 0 }
    if (!result.ran) return result
    try {
      while (!plan.stopped()) {
        const header = (await run(
          `DELETE FROM ${plan.table} WHERE expiry < ? ORDER BY expiry LIMIT ?`,
          [plan.now(), plan.batch],
        )) as { affectedRows: number }
        result.batches++
        result.deleted += header.affectedRows
        if (header.affectedRows < plan.batch) break
      }
    } finally {
      await run('SELECT RELEASE_LOCK(?)', [plan.lock])
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

  /** Schedule the first pass (a no-op once stopped). */
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

  /** True while a pass triggered by the timer is running. */
  get running(): boolean {
    return this.#running !== undefined
  }

  async #tick(): Promise<void> {
    this.#timer = undefined
    this.#running = this.#pass().catch(this.#onError)
    await this.#running
    this.#running = undefined
    this.start()
  }
}
