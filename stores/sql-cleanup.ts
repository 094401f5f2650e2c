/**
 * Expired-row cleanup shared by the SQL stores (MySQL, Postgres): one pass takes a
 * server-side lock without waiting, deletes expired rows in batches until a batch comes
 * back short, and releases the lock; a timer runs passes one at a time. Each store
 * supplies its own statements (its lock and DELETE differ); the loop and the timer are
 * the same and live here once.
 */

/** What one cleanup pass did. */
export interface CleanupResult {
  /** False when another process held the lock, so this one did nothing. */
  ran: boolean
  /** Rows deleted. */
  deleted: number
  /** DELETE statements issued. */
  batches: number
}

/** The statements of one pass, all on the pass's own connection. */
export interface CleanupSteps {
  /** Try the lock without waiting; true when this pass holds it. */
  lock(): Promise<boolean>
  /** Delete up to `batch` expired rows; how many went. */
  deleteBatch(): Promise<number>
  /** Release the lock (and undo any session setting the pass made). */
  unlock(): Promise<void>
  /** Rows per DELETE: a shorter batch ends the pass. */
  batch: number
  /** Checked between batches: a closing store stops early. */
  stopped(): boolean
}

/** Run one pass: lock, delete batches until one comes back short, always unlock. */
export async function runCleanup(steps: CleanupSteps): Promise<CleanupResult> {
  const result: CleanupResult = { ran: await steps.lock(), deleted: 0, batches: 0 }
  if (!result.ran) return result
  try {
    while (!steps.stopped()) {
      const deleted = await steps.deleteBatch()
      result.batches++
      result.deleted += deleted
      if (deleted < steps.batch) break
    }
  } finally {
    await steps.unlock()
  }
  return result
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

  /** True while a pass triggered by the timer is running. */
  get running(): boolean {
    return this.#running !== undefined
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
