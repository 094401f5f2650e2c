import type {
  TouchStore,
  UserIndexStore,
  VersionedEntry,
  VersionedStore,
} from '../lib/store.js'
import { type MemoryStoreOptions, resolveMemoryOptions } from './memory-options.js'

export type { MemoryStoreOptions } from './memory-options.js'

interface Entry {
  data: Uint8Array
  expiry: number
  version: number
}

/**
 * Sessions in this process's memory: the zero-infrastructure default. Implements the
 * whole contract (versions, touch, user index, all). Not shared between processes,
 * and lost on restart; use a server store for more than one instance.
 *
 * The sweep timer is unref'd, so it never keeps the process alive; `close()` stops it.
 *
 * @example
 * ```ts
 * const manager = new SessionManager({ store: new MemoryStore({ maxEntries: 10_000 }) })
 * ```
 */
export class MemoryStore implements VersionedStore, TouchStore, UserIndexStore {
  readonly name = 'MemoryStore'
  readonly #entries = new Map<string, Entry>()
  readonly #users = new Map<string, Map<string, number>>()
  /** The users whose index lists each key, so a removed entry leaves every index at once. */
  readonly #usersOf = new Map<string, Set<string>>()
  /** Eviction cursor over `#entries` in least-recently-used order; see `#evictOldest`. */
  #cursor: MapIterator<string> = this.#entries.keys()
  readonly #max: number
  readonly #now: () => number
  #version = 0
  #timer: NodeJS.Timeout | undefined

  constructor(options: MemoryStoreOptions = {}) {
    const config = resolveMemoryOptions(options)
    this.#max = config.maxEntries
    this.#now = config.now
    const every = config.sweepInterval
    if (every > 0) {
      this.#timer = setInterval(() => this.sweep(), every)
      this.#timer.unref()
    }
  }

  /** Number of entries held, expired ones included until the next sweep. */
  get size(): number {
    return this.#entries.size
  }

  async find(key: string): Promise<Uint8Array | undefined> {
    return this.#live(key)?.data
  }

  async findVersioned(key: string): Promise<VersionedEntry | undefined> {
    const entry = this.#live(key)
    if (entry === undefined) return undefined
    return { data: entry.data, version: String(entry.version), expiry: new Date(entry.expiry) }
  }

  async commit(key: string, data: Uint8Array, expiry: Date): Promise<void> {
    this.#write(key, data, expiry)
  }

  async commitIfVersion(
    key: string,
    data: Uint8Array,
    expiry: Date,
    version: string | undefined,
  ): Promise<string | null> {
    const current = this.#live(key)
    const matches =
      version === undefined ? current === undefined : current?.version === Number(version)
    if (!matches) return null
    return String(this.#write(key, data, expiry))
  }

  async touch(key: string, expiry: Date): Promise<void> {
    const entry = this.#live(key)
    if (entry !== undefined) entry.expiry = expiry.getTime()
  }

  async delete(key: string): Promise<void> {
    this.#drop(key)
  }

  async *all(prefix: string): AsyncIterable<[string, Uint8Array]> {
    // Snapshot the keys: entries written while the caller iterates are not revisited.
    for (const key of [...this.#entries.keys()]) {
      if (!key.startsWith(prefix)) continue
      const entry = this.#live(key)
      if (entry !== undefined) yield [key, entry.data]
    }
  }

  async addToUser(user: string, key: string, expiry: Date): Promise<void> {
    let members = this.#users.get(user)
    if (members === undefined) this.#users.set(user, (members = new Map()))
    members.set(key, expiry.getTime())
    let users = this.#usersOf.get(key)
    if (users === undefined) this.#usersOf.set(key, (users = new Set()))
    users.add(user)
  }

  async listUser(user: string): Promise<string[]> {
    const members = this.#users.get(user)
    if (members === undefined) return []
    const now = this.#now()
    for (const [key, expiry] of members) if (expiry <= now) this.#unindex(user, key)
    return [...members.keys()]
  }

  async removeFromUser(user: string, key: string): Promise<void> {
    this.#unindex(user, key)
  }

  /** Drop every expired entry and index member now. */
  sweep(): void {
    const now = this.#now()
    for (const [key, entry] of this.#entries) if (entry.expiry <= now) this.#drop(key)
    for (const user of [...this.#users.keys()]) void this.listUser(user)
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiry <= this.#now()) {
      this.#drop(key)
      return undefined
    }
    // A read is a use: move the entry to the most recently used end of the Map.
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry
  }

  #write(key: string, data: Uint8Array, expiry: Date): number {
    // Re-insert so Map order is least-recently-used first, for eviction.
    const existed = this.#entries.delete(key)
    // At capacity, the least recently used entry goes (an expired one is usually it):
    // O(1), no sweep per write. Expired entries otherwise go on read and on the timer.
    if (!existed && this.#entries.size >= this.#max) this.#evictOldest()
    const version = ++this.#version
    // Copy: a caller reusing its buffer must not change what is stored.
    this.#entries.set(key, { data: new Uint8Array(data), expiry: expiry.getTime(), version })
    return version
  }

  /**
   * Drop the least recently used entry. One iterator is kept across evictions: a fresh
   * `keys().next()` would step over every slot deleted since the Map last rehashed
   * (O(n) per write at capacity); the kept one steps over each slot once. Every live key
   * behind it was re-inserted after it passed, so the next key it yields is the oldest.
   */
  #evictOldest(): void {
    let next = this.#cursor.next()
    if (next.done === true) next = (this.#cursor = this.#entries.keys()).next()
    if (next.done !== true) this.#drop(next.value)
  }

  /** Remove an entry and every user-index member pointing at it. */
  #drop(key: string): void {
    this.#entries.delete(key)
    const users = this.#usersOf.get(key)
    if (users === undefined) return
    for (const user of [...users]) this.#unindex(user, key)
  }

  #unindex(user: string, key: string): void {
    const members = this.#users.get(user)
    members?.delete(key)
    if (members?.size === 0) this.#users.delete(user)
    const users = this.#usersOf.get(key)
    users?.delete(user)
    if (users?.size === 0) this.#usersOf.delete(key)
  }
}
