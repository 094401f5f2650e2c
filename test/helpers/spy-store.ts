/**
 * A real store wrapped to count its calls, add latency (so concurrent requests truly
 * overlap) and simulate an outage or a hang. It forwards every capability the inner
 * store has and no other.
 */
import type { Store, TouchStore, UserIndexStore, VersionedEntry, VersionedStore } from '../../lib/store.js'

export type Mode = 'up' | 'down' | 'hang'

export class SpyStore implements Store {
  readonly name: string
  readonly calls: Record<string, number> = {}
  delay = 0
  mode: Mode = 'up'
  all?: Store['all']
  findVersioned?: VersionedStore['findVersioned']
  commitIfVersion?: VersionedStore['commitIfVersion']
  touch?: TouchStore['touch']
  addToUser?: UserIndexStore['addToUser']
  listUser?: UserIndexStore['listUser']
  removeFromUser?: UserIndexStore['removeFromUser']

  constructor(readonly inner: Store, options: { delay?: number; name?: string } = {}) {
    this.delay = options.delay ?? 0
    this.name = options.name ?? `Spy(${inner.name ?? 'store'})`
    const methods = ['findVersioned', 'commitIfVersion', 'touch', 'addToUser', 'listUser', 'removeFromUser']
    for (const m of methods) {
      const fn = (inner as unknown as Record<string, unknown>)[m]
      if (typeof fn === 'function') (this as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => this.#call(m, () => fn.apply(inner, args))
    }
    if (inner.all !== undefined) {
      const all = inner.all.bind(inner)
      this.all = (prefix: string) => {
        this.calls.all = (this.calls.all ?? 0) + 1
        return all(prefix)
      }
    }
  }

  /** Total store calls so far. */
  get total(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0)
  }

  reset(): void {
    for (const k of Object.keys(this.calls)) delete this.calls[k]
  }

  find(key: string): Promise<Uint8Array | undefined> {
    return this.#call('find', () => this.inner.find(key))
  }
  commit(key: string, data: Uint8Array, expiry: Date): Promise<void> {
    return this.#call('commit', () => this.inner.commit(key, data, expiry))
  }
  delete(key: string): Promise<void> {
    return this.#call('delete', () => this.inner.delete(key))
  }

  async #call<T>(method: string, run: () => Promise<T>): Promise<T> {
    this.calls[method] = (this.calls[method] ?? 0) + 1
    if (this.mode === 'hang') return new Promise<T>(() => {})
    if (this.delay > 0) await new Promise((r) => setTimeout(r, this.delay))
    if (this.mode === 'down') throw new Error('connection refused (simulated outage)')
    return run()
  }
}

export type { VersionedEntry }
