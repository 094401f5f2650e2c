import type { IDeleteRangeRequest, IKeyValue, IRangeRequest, IRangeResponse, IRequestOp, ITxnRequest, ITxnResponse, Namespace } from 'etcd3'
import { ConfigError } from '../lib/errors.js'
import type {
  BatchStore, CommitOptions, ExpiryWatchStore, FoundEntry, TouchStore, UserIndexStore, VersionedEntry, VersionedStore,
  WatchExpiryOptions,
} from '../lib/store.js'
import {
  FORWARD, MEMBER, SEP, SESSION, newVersion, open, rangeEnd, seal, toKey, versionBytes, versionKey,
  withSidecars,
} from './etcd-codec.js'
import { watchEtcdExpiry } from './etcd-expiry.js'
import { LeaseBuckets, isLeaseNotFound } from './etcd-leases.js'
import { validateOptions, type EtcdStoreOptions } from './etcd-options.js'
import { isRetryable } from './etcd-retryable.js'
import { retrying, type RetryPolicy } from './retry.js'

export type { EtcdStoreOptions } from './etcd-options.js'

/**
 * What the store needs of an etcd3 client: an `Etcd3`, or a `client.namespace(…)`
 * (`watch` only for `watchExpiry`).
 */
export type EtcdClient = Pick<Namespace, 'kv' | 'leaseClient' | 'prefix'> & Partial<Pick<Namespace, 'watch'>>

const NUL = Buffer.from([0])
/**
 * Operations per batch transaction: under etcd's default `--max-txn-ops` (128). A
 * server started with a lower limit needs `findMany`/`deleteMany` chunks to match.
 */
const TXN_OPS = 100
const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

/**
 * Sessions in etcd (v3 API, through the user's own etcd3 client). Implements the whole
 * contract: versions (a commit is one transaction whose compare guards the session's
 * version sidecar), touch, the user index, a paged `all()` and batches (transactions
 * of many reads or deletes), and store-side expiry events (`watchExpiry`).
 *
 * Layout (under the client's namespace): the session key as given holds
 * `[kind][exact expiry][data]`; `key + "\0v"` holds the 8-byte version token; user
 * index members live at `userNamespace + user + "\0" + key`. Keys share one lease per
 * expiry bucket (`leaseBucket`, default 60 s), so etcd deletes them at most one bucket
 * after they expire, while reads enforce the exact expiry. See docs/stores/etcd.md.
 * Over 300 lines because it implements every capability of the contract, each a
 * transaction or two, on one client; the byte layout, leases, options and the expiry
 * watch already live in files of their own.
 *
 * @example
 * ```ts
 * import { Etcd3 } from 'etcd3'
 * import { EtcdStore } from 'session-manager/stores/etcd'
 * const client = new Etcd3({
 *   hosts: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379', 'http://10.0.0.3:2379'],
 *   dialTimeout: 2000,
 * })
 * const manager = new SessionManager({ store: new EtcdStore(client, { timeout: 2000 }) })
 * ```
 */
export class EtcdStore implements VersionedStore, TouchStore, UserIndexStore, BatchStore, ExpiryWatchStore {
  readonly name = 'EtcdStore'
  readonly #client: EtcdClient
  readonly #ns: Buffer
  readonly #now: () => number
  readonly #timeout: number
  readonly #retry: RetryPolicy
  readonly #pageSize: number
  readonly #users: Buffer
  readonly #watches = new Set<() => Promise<void>>()
  /** Lease IDs by expiry bucket; exposed read-only for tests and metrics. */
  readonly leases: LeaseBuckets

  /** Throws `ConfigError` for a client that is not an etcd3 client, or a bad option. */
  constructor(client: EtcdClient, options: EtcdStoreOptions = {}) {
    const c = client as Partial<EtcdClient> | undefined
    if (typeof c?.kv?.txn !== 'function' || typeof c.leaseClient?.leaseGrant !== 'function') {
      throw new ConfigError('EtcdStore: `client` must be an Etcd3 client (or a namespace of one)')
    }
    const o = validateOptions(options)
    this.#client = client
    this.#ns = client.prefix ?? Buffer.alloc(0)
    this.#now = o.now
    this.#timeout = o.timeout
    this.#retry = { window: o.retryWindow, retryable: isRetryable }
    this.#pageSize = o.pageSize
    this.#users = Buffer.from(o.userNamespace, 'utf8')
    this.leases = new LeaseBuckets(o.leaseBucket, o.now, async (ttl) => {
      const res = await client.leaseClient.leaseGrant({ TTL: ttl }, this.#call())
      return res.ID
    })
  }

  /** The `retryWindow` in effect, in ms. */
  get retryWindow(): number {
    return this.#retry.window
  }

  async find(key: string): Promise<Uint8Array | undefined> {
    return (await this.findVersioned(key))?.data
  }

  async findVersioned(key: string): Promise<VersionedEntry | undefined> {
    const k = toKey(this.#ns, key)
    const res = await this.#range(withSidecars(k))
    const entry = this.#live(res.kvs, k)
    if (entry === undefined) return undefined
    return { data: entry.data, version: entry.version, expiry: new Date(entry.expiry) }
  }

  async commit(key: string, data: Uint8Array, expiry: Date): Promise<void> {
    const k = toKey(this.#ns, key)
    await this.#txn(expiry.getTime(), (lease) => ({ success: this.#write(k, data, expiry, lease) }))
  }

  async commitIfVersion(
    key: string,
    data: Uint8Array,
    expiry: Date,
    version: string | undefined,
    options: CommitOptions = {},
  ): Promise<string | null> {
    const k = toKey(this.#ns, key)
    const next = newVersion()
    const forward = options.forward === true
    if (version !== undefined) {
      const token = versionBytes(version)
      if (token === undefined) return null
      const res = await this.#txn(expiry.getTime(), (lease) => ({
        compare: [{ key: versionKey(k), target: 'Value', result: 'Equal', value: token }],
        success: this.#write(k, data, expiry, lease, next, true, forward),
        // Read back on failure: our own version there means an earlier attempt of this
        // commit landed and only its answer was lost (a retry), not a conflict.
        failure: [{ request_range: { key: versionKey(k) } }],
      }))
      if (res.succeeded) return next
      const stored = res.responses[0]?.response_range.kvs[0]?.value
      return stored !== undefined && stored.equals(versionBytes(next) ?? Buffer.alloc(0)) ? next : null
    }
    // Create only if absent: one transaction, which also reads what is there.
    const res = await this.#txn(expiry.getTime(), (lease) => ({
      compare: [{ key: k, target: 'Version', result: 'Equal', version: 0 }],
      success: this.#write(k, data, expiry, lease, next, true, forward),
      failure: [{ request_range: withSidecars(k) }],
    }))
    if (res.succeeded) return next
    // Present but past its exact expiry (its lease not yet run out): counts as absent.
    // Holding our own version: an earlier attempt of this commit landed (a retry).
    const there = this.#entry(res.responses[0]?.response_range.kvs ?? [], k)
    if (there?.version === next) return next
    if (there === undefined || there.expiry > this.#now()) return null
    const retry = await this.#txn(expiry.getTime(), (lease) => ({
      compare: [{ key: k, target: 'Mod', result: 'Equal', mod_revision: there.modRevision }],
      success: this.#write(k, data, expiry, lease, next, true, forward),
    }))
    return retry.succeeded ? next : null
  }

  /** Two round trips (read, then a transaction guarded by the read's mod_revision). */
  async touch(key: string, expiry: Date): Promise<void> {
    const k = toKey(this.#ns, key)
    const res = await this.#range(withSidecars(k))
    const entry = this.#live(res.kvs, k)
    if (entry === undefined) return
    const token = versionBytes(entry.version)
    // A commit between the read and this write wins: it set an expiry of its own.
    await this.#txn(expiry.getTime(), (lease) => ({
      compare: [{ key: k, target: 'Mod', result: 'Equal', mod_revision: entry.modRevision }],
      success: this.#write(k, entry.data, expiry, lease, entry.version, token !== undefined, entry.forward),
    }))
  }

  async delete(key: string): Promise<void> {
    await this.#deleteRange(withSidecars(toKey(this.#ns, key)))
  }

  /** Pages of `pageSize` keys, all read at the first page's revision (a snapshot). */
  async *all(prefix: string): AsyncIterable<[string, Uint8Array]> {
    const start = toKey(this.#ns, prefix)
    const end = rangeEnd(start)
    let from = start.length > 0 ? start : NUL
    let revision: string | undefined
    for (;;) {
      const req = { key: from, range_end: end, limit: this.#pageSize, revision }
      const res = await this.#range(req)
      revision ??= res.header.revision
      const now = this.#now()
      for (const kv of res.kvs) {
        const name = kv.key.subarray(this.#ns.length).toString('utf8')
        const env = name.includes(SEP) ? undefined : open(kv.value)
        if (env?.kind === SESSION && env.expiry > now) yield [name, env.data]
      }
      const last = res.kvs.at(-1)
      if (!res.more || last === undefined) return
      from = Buffer.concat([last.key, NUL])
    }
  }

  async addToUser(user: string, key: string, expiry: Date): Promise<void> {
    const k = this.#member(user, key)
    await this.#txn(expiry.getTime(), (lease) => ({
      success: [
        lease === ''
          ? { request_delete_range: { key: k } }
          : { request_put: { key: k, value: seal(MEMBER, expiry.getTime()), lease } },
      ],
    }))
  }

  async listUser(user: string): Promise<string[]> {
    const start = this.#member(user, '')
    const res = await this.#range({ key: start, range_end: rangeEnd(start) })
    const now = this.#now()
    const live: string[] = []
    const expired: IRequestOp[] = []
    for (const kv of res.kvs) {
      const env = open(kv.value)
      if (env !== undefined && env.expiry > now) live.push(kv.key.subarray(start.length).toString())
      else expired.push({ request_delete_range: { key: kv.key } })
    }
    // Their lease removes them within a bucket anyway; pruning now keeps lists short.
    if (expired.length > 0) await this.#plainTxn({ success: expired })
    return live
  }

  async removeFromUser(user: string, key: string): Promise<void> {
    await this.#deleteRange({ key: this.#member(user, key) })
  }

  /**
   * One transaction of up to 100 range reads (each a session with its version) per
   * 100 keys, all sent at once: one round trip of latency, ceil(n / 100) RPCs.
   */
  async findMany(keys: readonly string[]): Promise<Array<FoundEntry | undefined>> {
    const unique = [...new Set(keys)]
    const found = new Map<string, FoundEntry>()
    await Promise.all(
      chunks(unique, TXN_OPS).map(async (chunk) => {
        const ks = chunk.map((key) => toKey(this.#ns, key))
        const res = await this.#plainTxn({ success: ks.map((k) => ({ request_range: withSidecars(k) })) })
        chunk.forEach((key, i) => {
          const entry = this.#live(res.responses[i]?.response_range.kvs ?? [], ks[i] as Buffer)
          if (entry !== undefined) found.set(key, { data: entry.data, version: entry.version, expiry: new Date(entry.expiry) })
        })
      }),
    )
    return keys.map((key) => found.get(key))
  }

  /**
   * One transaction per 100 deletes (a session with its version sidecar is one; its
   * user-index member another), all sent at once.
   */
  async deleteMany(keys: readonly string[], user?: string): Promise<void> {
    const ops: IRequestOp[] = []
    for (const key of new Set(keys)) {
      ops.push({ request_delete_range: withSidecars(toKey(this.#ns, key)) })
      if (user !== undefined) ops.push({ request_delete_range: { key: this.#member(user, key) } })
    }
    await Promise.all(chunks(ops, TXN_OPS).map((success) => this.#plainTxn({ success })))
  }

  /**
   * Report sessions under `prefix` that etcd removes by lease expiry: one etcd watch
   * (DELETE events with the deleted value) through the client's own watch stream.
   * A lease removes a key up to one `leaseBucket` after its exact expiry, so the event
   * comes that late. Explicit deletes (`delete`, `deleteMany`, a commit with a past
   * expiry) of live entries and renewals' forwards are not reported. After a reconnect
   * the watch resumes from its last revision, so expiries meanwhile are reported then,
   * unless etcd compacted that revision (the gap goes to `onError`). Needs a client
   * with `watch()` (an `Etcd3` or a namespace of one); `close()` stops every watch.
   * Resolves once the watch is attached (rejects after `timeout` when etcd does not
   * answer). Failures go to `options.onError`. See docs/stores/etcd.md.
   *
   * @example
   * ```ts
   * manager.on('expired', (e) => { if (e.source === 'store') metrics.expired.inc() })
   * const stop = await manager.watchExpiry() // calls store.watchExpiry(prefix, …)
   * ```
   */
  async watchExpiry(prefix: string, onExpired: (key: string) => void, options: WatchExpiryOptions = {}): Promise<() => Promise<void>> {
    const client = this.#client
    if (client.watch === undefined) throw new ConfigError('EtcdStore.watchExpiry: the client has no watch() (pass an Etcd3 client or a namespace of one)')
    toKey(this.#ns, prefix, 'prefix')
    const { stop } = await watchEtcdExpiry(
      { watch: client.watch.bind(client), leaseClient: client.leaseClient, kv: client.kv },
      prefix,
      onExpired,
      { ...options, now: this.#now, timeout: this.#timeout },
    )
    const once = async () => {
      if (this.#watches.delete(once)) await stop()
    }
    this.#watches.add(once)
    return once
  }

  /**
   * Stops the watches of `watchExpiry` and forgets the cached lease IDs. The leases are
   * left to expire (revoking would delete sessions); the client is never closed.
   */
  async close(): Promise<void> {
    this.leases.clear()
    await Promise.all([...this.#watches].map((stop) => stop()))
  }

  #call(): { deadline: Date } | undefined {
    return this.#timeout > 0 ? { deadline: new Date(Date.now() + this.#timeout) } : undefined
  }

  #member(user: string, key: string): Buffer {
    if (user.includes(SEP)) throw new ConfigError('EtcdStore: argument user: expected no NUL character (it separates etcd keys)')
    return Buffer.concat([this.#ns, this.#users, toKey(Buffer.from(`${user}${SEP}`), key)])
  }

  /** The session among `kvs` (a `withSidecars` range of `k`), expired or not. */
  #entry(kvs: IKeyValue[], k: Buffer) {
    const main = kvs.find((kv) => kv.key.equals(k))
    const env = main === undefined ? undefined : open(main.value)
    if (main === undefined || env?.kind !== SESSION) return undefined
    const version = kvs.find((kv) => kv.key.equals(versionKey(k)))?.value.toString('hex') ?? ''
    return { data: env.data, expiry: env.expiry, version, modRevision: main.mod_revision, forward: env.forward }
  }

  /** Like `#entry`, but only a live one (its exact expiry not reached). */
  #live(kvs: IKeyValue[], k: Buffer) {
    const entry = this.#entry(kvs, k)
    return entry !== undefined && entry.expiry > this.#now() ? entry : undefined
  }

  /** The ops writing a session (or a forward) and its version token; a past expiry deletes instead. */
  #write(k: Buffer, data: Uint8Array, expiry: Date, lease: string, version = newVersion(), withVersion = true, forward = false): IRequestOp[] {
    if (lease === '') return [{ request_delete_range: withSidecars(k) }]
    const value = seal(forward ? FORWARD : SESSION, expiry.getTime(), data)
    const ops: IRequestOp[] = [{ request_put: { key: k, value, lease } }]
    const token = versionBytes(version)
    if (withVersion && token !== undefined) ops.push({ request_put: { key: versionKey(k), value: token, lease } })
    return ops
  }

  /**
   * One transaction written under the lease of `expiry`'s bucket (`''`: no lease, the
   * expiry is past). A lease etcd no longer knows is re-granted once, then it fails.
   */
  async #txn(expiry: number, build: (lease: string) => ITxnRequest): Promise<ITxnResponse> {
    return retrying(async () => {
      for (let attempt = 0; ; attempt++) {
        const past = expiry <= this.#now()
        const granted = past ? Promise.resolve('') : this.leases.lease(expiry)
        const lease = await granted
        try {
          return await this.#client.kv.txn(build(lease), this.#call())
        } catch (err) {
          if (attempt > 0 || past || !isLeaseNotFound(err)) throw err
          this.leases.forget(expiry, granted)
        }
      }
    }, this.#retry)
  }

  // The etcd calls, each retried within the window. All are idempotent: reads, deletes,
  // and transactions that either write unconditionally or read back on failure.
  #range(req: IRangeRequest): Promise<IRangeResponse> {
    return retrying(() => this.#client.kv.range(req, this.#call()), this.#retry)
  }

  #plainTxn(req: ITxnRequest): Promise<ITxnResponse> {
    return retrying(() => this.#client.kv.txn(req, this.#call()), this.#retry)
  }

  #deleteRange(req: IDeleteRangeRequest): Promise<unknown> {
    return retrying(() => this.#client.kv.deleteRange(req, this.#call()), this.#retry)
  }
}
