/**
 * Timeouts for store calls with one timer for all of them. Every call of a manager
 * has the same time limit, so calls expire in the order they started: the pending
 * list is kept in that order (a Set iterates in insertion order), a single unref'd
 * timer is armed for the oldest one, and a call that settles leaves the list. A
 * timer, a second promise and a `Promise.race` per store call were a measurable
 * share of a read-only request.
 */
interface Pending {
  readonly due: number
  readonly expire: () => void
}

export class Deadlines {
  readonly #ms: number
  readonly #pending = new Set<Pending>()
  #timer: NodeJS.Timeout | undefined

  constructor(ms: number) {
    this.#ms = ms
  }

  /** Calls still waiting (for tests). */
  get size(): number {
    return this.#pending.size
  }

  /**
   * `work`, or the error `onTimeout()` makes once the time limit passed first. A late
   * settlement of `work` is then ignored.
   */
  race<T>(work: Promise<T>, onTimeout: () => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { due: Date.now() + this.#ms, expire: () => reject(onTimeout()) }
      this.#pending.add(entry)
      this.#arm()
      work.then(
        (value) => {
          this.#pending.delete(entry)
          resolve(value)
        },
        (err: unknown) => {
          this.#pending.delete(entry)
          reject(err)
        },
      )
    })
  }

  #arm(): void {
    if (this.#timer !== undefined) return
    const first = this.#pending.values().next()
    if (first.done === true) return
    this.#timer = setTimeout(() => this.#check(), Math.max(0, first.value.due - Date.now()))
    this.#timer.unref()
  }

  #check(): void {
    this.#timer = undefined
    const now = Date.now()
    for (const entry of this.#pending) {
      if (entry.due > now) break
      this.#pending.delete(entry)
      entry.expire()
    }
    this.#arm()
  }
}
