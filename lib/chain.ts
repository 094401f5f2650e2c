import type { SessionRecord } from './codec.js'

/** The tail of a chain goes on after a failed task (made once, not per task). */
const ignore = (): undefined => undefined

/** The newest state of a key this process knows of; `record: null` = deleted. */
export interface Latest {
  seq: number
  version: string | undefined
  record: SessionRecord | null
}

interface Link {
  tail: Promise<unknown>
  users: number
  latest: Latest | undefined
}

/**
 * Per-key commit queue. Commits of one session inside this process run one after
 * the other, and each sees the state the previous one left (`latest`), so a commit
 * rebases onto it without a store round trip. Version conflicts (and retries) are
 * then only needed between processes.
 *
 * A key's entry lives while any request holds the key (`hold` … `release`), so a
 * commit made after a session was loaded is always known to later commits of it.
 */
export class CommitChain {
  readonly #links = new Map<string, Link>()
  #seq = 0

  /** Keys held by requests in flight. */
  get size(): number {
    return this.#links.size
  }

  /** Current commit sequence number of this process. */
  get seq(): number {
    return this.#seq
  }

  /** A request starts using `key`. */
  hold(key: string): void {
    const link = this.#links.get(key)
    if (link !== undefined) link.users++
    else this.#links.set(key, { tail: Promise.resolve(), users: 1, latest: undefined })
  }

  /** True while a request holds `key` (else {@link run} runs a task at once). */
  holds(key: string): boolean {
    return this.#links.has(key)
  }

  /** A request is done with `key`. */
  release(key: string): void {
    const link = this.#links.get(key)
    if (link === undefined) return
    if (--link.users <= 0) this.#links.delete(key)
  }

  /** What this process last committed to `key` after sequence `since`, if anything. */
  newer(key: string, since: number): Latest | undefined {
    const latest = this.#links.get(key)?.latest
    return latest !== undefined && latest.seq > since ? latest : undefined
  }

  /** Remember a successful commit (or deletion) of `key`. */
  settle(key: string, version: string | undefined, record: SessionRecord | null): void {
    const link = this.#links.get(key)
    if (link !== undefined) link.latest = { seq: ++this.#seq, version, record }
  }

  /** Run `task` after every earlier task queued for `key`. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const link = this.#links.get(key)
    if (link === undefined) return task()
    const result = link.tail.then(task, task)
    link.tail = result.catch(ignore)
    return result
  }
}
