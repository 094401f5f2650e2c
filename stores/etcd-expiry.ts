/**
 * The etcd store's `watchExpiry`: one etcd watch (DELETE events only, with the deleted
 * value, `prev_kv`) over the session keys under a prefix, telling a lease expiry from an
 * explicit delete by what was deleted.
 *
 * etcd records no cause with a DELETE, so the decision rests on two facts the store
 * guarantees: an entry's exact expiry is in its value (the envelope), and its lease
 * lives until at least the end of that expiry's bucket (plus a second of slack), so a
 * lease never deletes a key before its exact expiry. A delete is reported when
 * 1. the deleted value is a session entry (not a forward, not an index member), and
 * 2. its exact expiry is not after now: a delete of a live entry (`destroy`,
 *    `revokeUser`, a renewal's delete) happens before its expiry, so a live event of
 *    one arrives before it too and is skipped, and
 * 3. its lease is gone (`LeaseTimeToLive` answers TTL -1): etcd removes a lease in the
 *    same step as its keys, so a key deleted by its lease's expiry always passes, while
 *    an explicit delete leaves the lease to live on until its bucket ends. This is what
 *    keeps a delete replayed after a reconnect (received after the entry's expiry)
 *    from being reported, as long as the lease still lives when it is replayed.
 * An explicit delete of an entry already past its exact expiry (its key not yet removed
 * by the lease) counts as expired: the session was over either way.
 *
 * The etcd3 watcher resumes from the revision after the last one it saw when its stream
 * reconnects, so deletes while disconnected are replayed then. When etcd has compacted
 * that revision meanwhile, it cancels the watch; the watch then starts again from the
 * oldest revision etcd still has (found by a binary search of ranges at past revisions)
 * and reports the gap to `onError`: deletes between the last revision seen and the
 * compaction are gone from etcd's history, the later ones are replayed.
 */
import type { IKeyValue, Namespace, Watcher } from 'etcd3'
import { StoreError } from '../lib/errors.js'
import type { WatchExpiryOptions } from '../lib/store.js'
import { SEP, SESSION, open } from './etcd-codec.js'

/** What the watch needs of the client: the store's etcd3 client or namespace. */
export type WatchClient = Pick<Namespace, 'watch' | 'leaseClient' | 'kv'>

/** Options of {@link watchEtcdExpiry} the store fills in. */
export interface EtcdWatchOptions extends WatchExpiryOptions {
  /** The store's clock (ms). */
  now: () => number
  /** Deadline of the lease checks, the watch's start and its stop, in ms (0: none). */
  timeout: number
}

/** Lease IDs known to be gone, kept for the events of one expiry (all keys of a lease go at once). */
const GONE_CACHE = 256

/**
 * Watch the keys starting with `prefix` (inside the client's namespace) and call
 * `onExpired(key)` for each session entry removed by its lease's expiry, `key` as the
 * store was given it (`prefix` included, the client's namespace not). Resolves once the
 * watch is attached to etcd, to its `stop` (which never rejects).
 */
export async function watchEtcdExpiry(
  client: WatchClient,
  prefix: string,
  onExpired: (key: string) => void,
  options: EtcdWatchOptions,
): Promise<{ stop: () => Promise<void> }> {
  const { now, timeout } = options
  const report = (err: unknown) => options.onError?.(err)
  const gone = new Set<string>()
  let stopped = false
  let watcher: Watcher | undefined
  // Events are handled in order, one at a time (a lease check may be pending).
  let queue = Promise.resolve()
  // Deletes of one revision share it: no key is reported twice even if a restart overlaps.
  let revision = -1n
  const seen = new Set<string>()
  // The revision up to which every event has been received (a watch response's header).
  let synced = 0n

  const deadline = () => (timeout > 0 ? { deadline: new Date(Date.now() + timeout) } : undefined)

  async function leaseGone(lease: string): Promise<boolean> {
    if (gone.has(lease)) return true
    try {
      const res = await client.leaseClient.leaseTimeToLive({ ID: lease }, deadline())
      if (Number(res.TTL) >= 0) return false
    } catch (err) {
      // etcd 3.5+ may answer "lease not found" for a lease that expired.
      if (!String((err as Error).message).includes('not found')) {
        // Unknown: the expiry alone decides (condition 2 held), rather than lose an event.
        report(new StoreError('EtcdStore', 'watchExpiry', { cause: err, detail: 'lease check failed; reported by the exact expiry alone' }))
        return true
      }
    }
    gone.add(lease)
    if (gone.size > GONE_CACHE) gone.delete(gone.values().next().value as string)
    return true
  }

  async function handle(kv: IKeyValue, prev: IKeyValue | undefined): Promise<void> {
    const key = kv.key.toString('utf8')
    if (stopped || !key.startsWith(prefix) || key.includes(SEP) || prev === undefined) return
    const rev = BigInt(kv.mod_revision)
    if (rev < revision) return
    if (rev > revision) {
      revision = rev
      seen.clear()
    }
    if (seen.has(key)) return
    seen.add(key)
    const env = open(prev.value)
    if (env?.kind !== SESSION || env.forward || env.expiry > now()) return
    if (prev.lease === '0' || !(await leaseGone(prev.lease))) return
    if (!stopped) onExpired(key)
  }

  async function start(from?: bigint): Promise<Watcher> {
    let builder = client.watch().prefix(prefix).only('delete').withPreviousKV()
    if (from !== undefined) builder = builder.startRevision(String(from))
    const w = builder.watcher()
    w.on('delete', (kv: IKeyValue, prev?: IKeyValue) => {
      queue = queue.then(() => handle(kv, prev)).catch(report)
    })
    w.on('data', (res: { header: { revision: string } }) => {
      if (BigInt(res.header.revision) > synced) synced = BigInt(res.header.revision)
    })
    // A fresh watch (no start revision) begins at etcd's current one: nothing before is owed.
    if (from === undefined) {
      w.once('connected', (res: { header: { revision: string } }) => {
        if (synced === 0n) synced = BigInt(res.header.revision)
      })
    }
    // Once per outage: etcd3 retries (and emits this) every backoff while etcd is away.
    let down = false
    w.on('connected', () => {
      down = false
    })
    w.on('disconnected', (err: unknown) => {
      if (!stopped && !down) report(new StoreError('EtcdStore', 'watchExpiry', { cause: err, detail: 'watch disconnected; it resumes from its last revision' }))
      down = true
    })
    // Emitted when etcd cancels the watch (its start revision compacted): start again.
    w.on('error', (err: unknown) => {
      if (stopped || watcher !== w) return
      report(new StoreError('EtcdStore', 'watchExpiry', { cause: err, detail: `watch cancelled by etcd after revision ${synced}` }))
      restart()
    })
    await attached(w, timeout)
    return w
  }

  /** The oldest revision after `synced` etcd still has; a gap before it goes to `onError`. */
  async function resumeFrom(): Promise<bigint> {
    const at = async (rev: bigint) => {
      const res = await client.kv.range({ key: Buffer.from([0]), limit: 1, revision: String(rev) }, deadline())
      return BigInt(res.header.revision)
    }
    const current = await at(0n)
    let lo = synced + 1n
    let hi = current + 1n
    if (lo > current) return lo
    // Invariant: revisions below lo are compacted or not owed; hi is readable (or the next one).
    while (lo < hi) {
      const mid = (lo + hi) / 2n
      const readable = await at(mid).then(() => true, (err: unknown) => {
        if (String((err as Error).message).includes('compacted')) return false
        throw err
      })
      if (readable) hi = mid
      else lo = mid + 1n
    }
    if (lo > synced + 1n) {
      // A delete at the compaction revision itself is replayed without its previous value
      // (compacted too), so it cannot be told apart either.
      report(new StoreError('EtcdStore', 'watchExpiry', {
        detail: `etcd compacted revisions ${synced + 1n} to ${lo} before the watch read them: expiries there are not reported`,
      }))
    }
    return lo
  }

  function restart(): void {
    if (stopped) return
    watcher = undefined
    resumeFrom().then(start).then(
      async (w) => {
        if (stopped) await w.cancel().catch(() => {})
        else watcher = w
      },
      (err: unknown) => {
        report(err)
        if (!stopped) setTimeout(restart, 1000).unref()
      },
    )
  }

  watcher = await start()
  return {
    stop: async () => {
      if (stopped) return
      stopped = true
      const w = watcher
      if (w === undefined) return
      await bounded(w.cancel(), timeout).catch(() => {})
    },
  }
}

/** Resolves once `w` is attached to etcd; rejects after `ms` (0: waits) or on a cancel, cancelling it. */
async function attached(w: Watcher, ms: number): Promise<void> {
  try {
    await bounded(new Promise<void>((resolve, reject) => {
      w.once('connected', () => resolve())
      w.once('error', reject)
    }), ms)
  } catch (err) {
    await bounded(w.cancel(), ms).catch(() => {})
    throw new StoreError('EtcdStore', 'watchExpiry', { cause: err, timeout: err instanceof TimeoutError })
  }
}

class TimeoutError extends Error {}

/** `p`, or a rejection after `ms` (0: `p` as is). */
function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  if (ms <= 0) return p
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}
