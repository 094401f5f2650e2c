/**
 * Timeouts for store calls with one timer for all of them. Every call of a manager
 * has the same time limit, so calls expire in the order they started: the pending
 * list is kept in that order (a Set iterates in insertion order), a single unref'd
 * timer is armed for the oldest one, and a call that settles leaves the list. A
 * timer, a second promise and a `Promise.race` per store call were a measurable
 * share of a read-only request.
 */
/** One call waiting: how to settle it, and when it times out. */
class Pending<T, L> {
  constructor(
    readonly due: number,
    readonly resolve: (value: T) => void,
    readonly reject: (err: unknown) => void,
    readonly onTimeout: (label: L) => unknown,
    readonly label: L,
  ) {}

  expire(): void {
    this.reject(this.onTimeout(this.label))
  }
}

export class Deadlines {
  readonly #ms: number
  readonly #pending = new Set<Pending<never, never>>()
  #timer: NodeJS.Timeout | undefined

  constructor(ms: number) {
    this.#ms = ms
  }

  /** Calls still waiting (for tests). */
  get size(): number {
    return this.#pending.size
  }

  /**
   * `work`, or the error `onTimeout(label)` makes once the time limit passed first. A
   * late settlement of `work` is then ignored. `onError` maps a failure of `work`.
   * `label` and the two callbacks, made once by the caller, stand in for closures
   * per call (a store call's async wrapper and two closures were 0.6 KB of it).
   */
  race<T, L = undefined>(
    work: Promise<T>,
    onTimeout: (label: L) => unknown,
    label?: L,
    onError?: (err: unknown, label: L) => unknown,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = new Pending(Date.now() + this.#ms, resolve, reject, onTimeout, label as L)
      this.#pending.add(entry as unknown as Pending<never, never>)
      this.#arm()
      work.then(
        (value) => {
          this.#pending.delete(entry as unknown as Pending<never, never>)
          resolve(value)
        },
        (err: unknown) => {
          this.#pending.delete(entry as unknown as Pending<never, never>)
          reject(onError === undefined ? err : onError(err, label as L))
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
