/**
 * Timeouts for store calls with one timer for all of them. Every call of a manager
 * has the same time limit, so calls expire in the order they started: the pending
 * calls are kept in that order, a single unref'd timer is armed for the oldest one,
 * and a call that settles leaves the list. A timer, a second promise and a
 * `Promise.race` per store call were a measurable share of a read-only request.
 *
 * The list is linked through the calls themselves: adding to and deleting from a Set
 * that then stands empty (most of the time, one call at a time) reallocates its
 * table, 120 bytes per call; unlinking allocates nothing.
 */
/** One call waiting: how to settle it, when it times out, and its neighbours in the list. */
class Pending<T, L> {
  prev: Pending<never, never> | undefined
  next: Pending<never, never> | undefined

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

type Entry = Pending<never, never>

export class Deadlines {
  readonly #ms: number
  /** Oldest and newest pending call. */
  #head: Entry | undefined
  #tail: Entry | undefined
  #size = 0
  #timer: NodeJS.Timeout | undefined

  constructor(ms: number) {
    this.#ms = ms
  }

  /** Calls still waiting (for tests). */
  get size(): number {
    return this.#size
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
      const entry = new Pending(Date.now() + this.#ms, resolve, reject, onTimeout, label as L) as unknown as Entry
      this.#add(entry)
      this.#arm()
      work.then(
        (value) => {
          this.#remove(entry)
          resolve(value)
        },
        (err: unknown) => {
          this.#remove(entry)
          reject(onError === undefined ? err : onError(err, label as L))
        },
      )
    })
  }

  #add(entry: Entry): void {
    entry.prev = this.#tail
    if (this.#tail === undefined) this.#head = entry
    else this.#tail.next = entry
    this.#tail = entry
    this.#size++
  }

  /** Unlink `entry`; a no-op when it already left (expired, then settled late). */
  #remove(entry: Entry): void {
    if (entry.prev === undefined && this.#head !== entry) return
    if (entry.prev === undefined) this.#head = entry.next
    else entry.prev.next = entry.next
    if (entry.next === undefined) this.#tail = entry.prev
    else entry.next.prev = entry.prev
    entry.prev = undefined
    entry.next = undefined
    this.#size--
  }

  #arm(): void {
    if (this.#timer !== undefined) return
    const first = this.#head
    if (first === undefined) return
    this.#timer = setTimeout(() => this.#check(), Math.max(0, first.due - Date.now()))
    this.#timer.unref()
  }

  #check(): void {
    this.#timer = undefined
    const now = Date.now()
    for (let entry = this.#head; entry !== undefined && entry.due <= now; entry = this.#head) {
      this.#remove(entry)
      entry.expire()
    }
    this.#arm()
  }
}
