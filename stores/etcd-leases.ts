/**
 * Shared leases for the etcd store: one lease per expiry bucket instead of one per
 * session. An expiry is rounded UP to the end of its bucket (`width` ms), so a key
 * always outlives its exact expiry (which the store enforces on read) by less than one
 * bucket, and every session expiring in the same bucket shares one lease.
 */

/** Grants a lease of `ttl` seconds and resolves to its ID; must reject on failure. */
export type GrantLease = (ttl: number) => Promise<string>

/** Extra seconds a lease lives past its bucket end: absorbs client/leader clock skew. */
const SLACK_SECONDS = 1

/**
 * A cache of lease IDs keyed by bucket end. Concurrent commits into one bucket share
 * a single grant; a failed grant is not cached (the next commit tries again); entries
 * of buckets that have ended are dropped, so the cache holds at most one ID per bucket
 * between now and the furthest expiry in use.
 *
 * @example
 * ```ts
 * const leases = new LeaseBuckets(60_000, Date.now, async (ttl) => {
 *   const { ID } = await client.leaseClient.leaseGrant({ TTL: ttl })
 *   return ID
 * })
 * const id = await leases.lease(Date.now() + 30 * 60_000)
 * ```
 */
export class LeaseBuckets {
  readonly #width: number
  readonly #now: () => number
  readonly #grant: GrantLease
  readonly #cache = new Map<number, Promise<string>>()
  #grants = 0

  constructor(width: number, now: () => number, grant: GrantLease) {
    this.#width = width
    this.#now = now
    this.#grant = grant
  }

  /** The end (ms since epoch) of the bucket holding `expiry`: `expiry` rounded up. */
  bucketEnd(expiry: number): number {
    return Math.ceil(expiry / this.#width) * this.#width
  }

  /** Number of cached lease IDs (buckets still open). */
  get size(): number {
    return this.#cache.size
  }

  /** Number of leases granted so far by this cache (re-grants included). */
  get granted(): number {
    return this.#grants
  }

  /**
   * The lease ID for keys expiring at `expiry` (ms): the cached one of its bucket, or a
   * new grant that lives until the bucket's end. Rejects when the grant fails.
   */
  lease(expiry: number): Promise<string> {
    const now = this.#now()
    this.#prune(now)
    const end = this.bucketEnd(expiry)
    const cached = this.#cache.get(end)
    if (cached !== undefined) return cached
    this.#grants++
    const ttl = Math.max(1, Math.ceil((end - now) / 1000)) + SLACK_SECONDS
    const granted = this.#grant(ttl)
    this.#cache.set(end, granted)
    // A failed grant must not stay cached; the caller still sees the rejection.
    granted.catch(() => this.forget(expiry, granted))
    return granted
  }

  /**
   * Drop the cached ID of `expiry`'s bucket (when etcd reports it expired or revoked),
   * unless it was already replaced by a newer grant than `stale`.
   */
  forget(expiry: number, stale?: Promise<string>): void {
    const end = this.bucketEnd(expiry)
    if (stale === undefined || this.#cache.get(end) === stale) this.#cache.delete(end)
  }

  /** Forget every cached ID (the leases themselves expire on their own). */
  clear(): void {
    this.#cache.clear()
  }

  #prune(now: number): void {
    // Map order is insertion order, not bucket order: scan all, it stays small.
    for (const end of this.#cache.keys()) if (end <= now) this.#cache.delete(end)
  }
}

/** True for etcd's "requested lease not found" (an expired or revoked lease), by shape. */
export function isLeaseNotFound(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  return (
    err.name === 'EtcdLeaseInvalidError' ||
    err.constructor.name === 'EtcdLeaseInvalidError' ||
    err.message.includes('requested lease not found')
  )
}
