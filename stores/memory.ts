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
    this.#entries.delete(key)
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
  }

  async listUser(user: string): Promise<string[]> {
    const members = this.#users.get(user)
    if (members === undefined) return []
    const now = this.#now()
    for (const [key, expiry] of members) if (expiry <= now) members.delete(key)
    if (members.size === 0) this.#users.delete(user)
    return [...members.keys()]
  }

  async removeFromUser(user: string, key: string): Promise<void> {
    const members = this.#users.get(user)
    members?.delete(key)
    if (members?.size === 0) this.#users.delete(user)
  }

  /** Drop every expired entry and index member now. */
  sweep(): void {
    const now = this.#now()
    for (const [key, entry] of this.#entries) if (entry.expiry <= now) this.#entries.delete(key)
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
      this.#entries.delete(key)
      return undefined
    }
    return entry
  }

  #write(key: string, data: Uint8Array, expiry: Date): number {
    // Re-insert so Map order is least-recently-written first, for eviction.
    this.#entries.delete(key)
    if (this.#entries.size >= this.#max) this.#evict()
    const version = ++this.#version
    // Copy: a caller reusing its buffer must not change what is stored.
    this.#entries.set(key, { data: new Uint8Array(data), expiry: expiry.getTime(), version })
    return version
  }

  #evict(): void {
    this.sweep()
    for (const key of this.#entries.keys()) {
      if (this.#entries.size < this.#max) break
      this.#entries.delete(key)
    }
  }
}
