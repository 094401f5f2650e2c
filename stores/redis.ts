/**
 * The Redis store's class, its options and its entry format. A little over 300 lines
 * because the class is the public API of one store, TSDoc included; its scripts, batches,
 * expiry watch, forward markers and durable writes already live in the redis-*.ts files.
 */
import { secureRandom } from '../lib/token.js'
import type { ChainableCommander, Cluster, Redis } from 'ioredis'
import { z } from 'zod'
import { MAX_TIMER_MS } from '../lib/config.js'
import { ConfigError } from '../lib/errors.js'
import { parseOptions, wholeOption } from '../lib/options.js'
import type {
  CommitOptions,
  ExpiryWatchStore,
  BatchStore,
  FoundEntry,
  TouchStore,
  UserIndexStore,
  VersionedEntry,
  VersionedStore,
} from '../lib/store.js'
import { watchRedisExpiry, type RedisWatchOptions } from './redis-expiry.js'
import { MARKER_MS, forwardMarker } from './redis-forward.js'
import { DurableWrites } from './redis-wait.js'
import { BATCH, pipelined, slotChunks } from './redis-batch.js'
import { ADD_USER, COMMIT, LIST_USER, TOUCH, run, send, type RedisClient, type Wait } from './redis-scripts.js'
import { isRetryable } from './redis-retryable.js'
import { retrying, retryWindowOption, type RetryPolicy } from './retry.js'

export type { RedisClient } from './redis-scripts.js'
export { redisClientOptions, sentinelClientOptions, clusterClientOptions } from './redis-options.js'

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * Prepended to every Redis key the store writes: sessions live at
   * `<prefix>s:<key>`, user indexes at `<prefix>u:<user>`. Default `'sm:'`.
   */
  prefix?: string
  /**
   * Replicas that must acknowledge each commit and delete (Redis `WAIT`) before it
   * resolves; fewer within `waitTimeout` and it rejects, although the primary has
   * applied the write. Default 0: resolve once the primary has it.
   */
  waitReplicas?: number
  /** How long WAIT may block, in ms (> 0). Default 1000. */
  waitTimeout?: number
  /** SCAN `COUNT` hint for `all()`: keys examined per call and node. Default 250. */
  scanCount?: number
  /**
   * ms, from the first attempt, during which a command that failed the way a failover
   * or a restart makes commands fail (the connection closed or timed out, `READONLY`,
   * `LOADING`, `MASTERDOWN`, `CLUSTERDOWN`, `TRYAGAIN`, ioredis out of reconnections) is
   * sent again, after pauses of 50 ms doubling to 500 ms; 0: never. A retried versioned
   * commit recognises its own version, so a commit whose reply was lost is applied once
   * and not reported as a conflict. Keep it under the manager's `storeTimeout`, which
   * still bounds each request. Default 5000 (a Cluster promotion took 3.6–4.2 s in
   * the fault tests). `all()` is not retried.
   */
  retryWindow?: number
}

const optionsSchema = z.strictObject({
  prefix: z.string({ error: 'expected a string' }).default('sm:'),
  waitReplicas: wholeOption(0, 1000, 0),
  waitTimeout: wholeOption(1, MAX_TIMER_MS, 1000, `a whole number of ms from 1 to ${MAX_TIMER_MS}`),
  scanCount: wholeOption(1, 1_000_000, 250),
  retryWindow: retryWindowOption(5000),
})

// Entry header: an 8-byte random version, then the expiry in ms as a float64.
const HEADER = 16
const expiryBytes = (expiry: Date) => {
  const b = Buffer.alloc(8)
  b.writeDoubleBE(expiry.getTime())
  return b
}
/** The entry's version, expiry and data, or undefined when missing or past its expiry. */
const parse = (value: Buffer | null) => {
  if (value === null || value.length < HEADER) return undefined
  const expiry = value.readDoubleBE(8)
  if (!(expiry > Date.now())) return undefined
  return { version: value.subarray(0, 8), expiry, data: value.subarray(HEADER) }
}
// SCAN MATCH is a glob: the caller's prefix must match literally.
const glob = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&')

/**
 * Sessions in Redis through the user's own ioredis client: a standalone `Redis`, a
 * Sentinel-configured `Redis` (`new Redis({ sentinels, name })`) or a `Cluster`.
 * Implements the whole contract: versions, touch, the user index, `all()` and batches
 * (`findMany`/`deleteMany`, see redis-batch.ts).
 *
 * Each entry is one string, a 16-byte header (version, expiry) and the data, that
 * expires by PEXPIREAT, so Redis drops expired sessions itself. Every operation is
 * one Redis command on one key: a read is GET; a new session or a plain commit is one
 * SET (NX for a new one); a versioned commit, touch or user-index change is one EVALSHA
 * of a script loaded once per server. With `waitReplicas` the writes go out on a
 * connection of the store's own, followed by WAITs (redis-wait.ts). The store never
 * closes or reconfigures the client.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * import { SessionManager } from 'session-manager'
 * import { RedisStore } from 'session-manager/stores/redis'
 *
 * const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
 *   maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 2000,
 * })
 * const sessions = new SessionManager({ store: new RedisStore(client, { prefix: 'myapp:' }) })
 * ```
 */
export class RedisStore implements VersionedStore, TouchStore, UserIndexStore, BatchStore, ExpiryWatchStore {
  readonly name = 'RedisStore'
  readonly #client: RedisClient
  readonly #sessions: string
  readonly #users: string
  readonly #wait: Wait | undefined
  /** With `waitReplicas`: the writes' own connection and their grouped WAITs (stores/redis-wait.ts). */
  readonly #durable: DurableWrites | undefined
  readonly #scanCount: number
  readonly #retry: RetryPolicy
  readonly #watches = new Set<() => Promise<void>>()

  /** Validates `options`; throws `ConfigError` naming a bad one. */
  constructor(client: Redis | Cluster, options: RedisStoreOptions = {}) {
    const c = client as Partial<Redis> | null
    if (c === null || typeof c !== 'object' || typeof c.getBuffer !== 'function' || typeof c.evalsha !== 'function') {
      throw new ConfigError('RedisStore: expected an ioredis Redis or Cluster client')
    }
    const o = (client as { options?: { keyPrefix?: string; redisOptions?: { keyPrefix?: string } } }).options
    if (o?.keyPrefix || o?.redisOptions?.keyPrefix) {
      throw new ConfigError('RedisStore: the client has a keyPrefix; use the store option prefix instead')
    }
    const { prefix, waitReplicas: replicas, waitTimeout: timeout, scanCount, retryWindow } = parseOptions('RedisStore', optionsSchema, options)
    this.#client = client
    this.#sessions = `${prefix}s:`
    this.#users = `${prefix}u:`
    this.#wait = replicas > 0 ? { replicas, timeout } : undefined
    this.#durable = this.#wait === undefined ? undefined : new DurableWrites(client, this.#wait)
    this.#scanCount = scanCount
    this.#retry = { window: retryWindow, retryable: isRetryable }
  }

  /** The `retryWindow` in effect, in ms. */
  get retryWindow(): number {
    return this.#retry.window
  }

  async find(key: string): Promise<Uint8Array | undefined> {
    return parse(await this.#get(this.#sessions + key))?.data
  }

  async findVersioned(key: string): Promise<VersionedEntry | undefined> {
    const entry = parse(await this.#get(this.#sessions + key))
    if (entry === undefined) return undefined
    return { data: entry.data, version: entry.version.toString('hex'), expiry: new Date(entry.expiry) }
  }

  async commit(key: string, data: Uint8Array, expiry: Date): Promise<void> {
    await this.#commit(key, data, expiry, 'set', '')
  }

  /**
   * Commit when the stored version is still `version` (absent when undefined). With
   * `options.forward`, the same script writes the forward's marker too (see
   * redis-forward.ts), so `watchExpiry` never reports the forward's expiry.
   */
  async commitIfVersion(
    key: string,
    data: Uint8Array,
    expiry: Date,
    version: string | undefined,
    options?: CommitOptions,
  ): Promise<string | null> {
    const forward = options?.forward === true
    if (version === undefined) return this.#commit(key, data, expiry, 'new', '', forward)
    // Not a version this store wrote: it can match no entry.
    if (!/^[0-9a-f]{16}$/.test(version)) return null
    return this.#commit(key, data, expiry, 'if', version, forward)
  }

  async touch(key: string, expiry: Date): Promise<void> {
    const args = [expiryBytes(expiry), String(expiry.getTime())]
    await retrying(() => run(this.#client, TOUCH, this.#sessions + key, args, 'touch'), this.#retry)
  }

  async delete(key: string): Promise<void> {
    await retrying(() => this.#write('delete', (c) => c.unlink(this.#sessions + key)), this.#retry)
  }

  /**
   * Every live entry under `prefix`, streamed page by page: SCAN MATCH on the
   * connected primary, or on every primary of a Cluster (never KEYS), then one GET
   * per key (keys of one page may live in different slots). Keys come back exactly as committed. An entry written or deleted during
   * the scan may or may not be listed; none is listed twice.
   */
  async *all(prefix: string): AsyncIterable<[string, Uint8Array]> {
    const client = this.#client
    const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis]
    const match = glob(this.#sessions + prefix) + '*'
    const strip = this.#sessions.length
    // SCAN may return a key twice (when the table is resized meanwhile); remember
    // the keys seen, not their data.
    const seen = new Set<string>()
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', this.#scanCount)
        cursor = next
        const fresh = keys.filter((k) => !seen.has(k))
        for (const k of fresh) seen.add(k)
        const values = await Promise.all(fresh.map((k) => client.getBuffer(k)))
        for (const [i, value] of values.entries()) {
          const entry = parse(value)
          if (entry !== undefined) yield [fresh[i]!.slice(strip), entry.data]
        }
      } while (cursor !== '0')
    }
  }

  async addToUser(user: string, key: string, expiry: Date): Promise<void> {
    const args = [String(expiry.getTime()), key]
    await retrying(() => run(this.#client, ADD_USER, this.#users + user, args, 'addToUser'), this.#retry)
  }

  async listUser(user: string): Promise<string[]> {
    const list = () => run(this.#client, LIST_USER, this.#users + user, [String(Date.now())], 'listUser')
    return (await retrying(list, this.#retry)) as string[]
  }

  async removeFromUser(user: string, key: string): Promise<void> {
    await retrying(() => this.#client.zrem(this.#users + user, key), this.#retry)
  }

  /**
   * MGET of up to 500 keys per command (per slot on a Cluster), one pipeline per node,
   * all sent at once: one round trip on a single server, one per primary on a Cluster.
   */
  async findMany(keys: readonly string[]): Promise<Array<FoundEntry | undefined>> {
    const full = keys.map((k) => this.#sessions + k)
    const chunks = slotChunks(this.#client, [...new Set(full)])
    const commands = chunks.map((chunk) => ({ key: chunk[0] as string, add: (p: ChainableCommander) => p.mgetBuffer(...chunk) }))
    const replies = await retrying(() => pipelined(this.#client, 'findMany', commands), this.#retry)
    const values = new Map<string, Buffer | null>()
    chunks.forEach((chunk, i) => {
      const reply = replies[i] as Array<Buffer | null>
      chunk.forEach((k, j) => values.set(k, reply[j] ?? null))
    })
    return full.map((k) => {
      const entry = parse(values.get(k) ?? null)
      return entry && { data: entry.data, version: entry.version.toString('hex'), expiry: new Date(entry.expiry) }
    })
  }

  /**
   * UNLINK of up to 500 keys per command (per slot on a Cluster) and, with `user`,
   * ZREM of them from the user index, in one pipeline per node sent at once (each
   * followed by WAIT with `waitReplicas`).
   */
  async deleteMany(keys: readonly string[], user?: string): Promise<void> {
    const unique = [...new Set(keys)]
    if (unique.length === 0) return
    const commands = slotChunks(this.#client, unique.map((k) => this.#sessions + k)).map((chunk) => ({
      key: chunk[0] as string,
      add: (p: ChainableCommander) => p.unlink(...chunk),
    }))
    if (user !== undefined) {
      const index = this.#users + user
      for (let i = 0; i < unique.length; i += BATCH) {
        const members = unique.slice(i, i + BATCH)
        commands.push({ key: index, add: (p) => p.zrem(index, ...members) })
      }
    }
    await retrying(() => pipelined(this.#durable?.connection() ?? this.#client, 'deleteMany', commands, this.#wait), this.#retry)
  }

  /**
   * Report sessions Redis expires (keyspace notifications, on subscriber connections
   * of its own: one made with `client.duplicate()`, or one per node of a Cluster,
   * following failovers; `close()` ends them). Needs each server's
   * `notify-keyspace-events` to include `Ex`: checked by CONFIG GET, added by CONFIG SET
   * with `configure: true`, on every node and again after each reconnect. A renewal's
   * forward (committed with `forward: true`) is never reported. Events while a
   * subscriber is disconnected (a Sentinel failover: until it has reconnected to the
   * new primary) are lost (pub/sub is at-most-once); it resubscribes on reconnect.
   */
  async watchExpiry(
    prefix: string,
    onExpired: (key: string) => void,
    options: RedisWatchOptions = {},
  ): Promise<() => Promise<void>> {
    const { stop } = await watchRedisExpiry(this.#client, this.#sessions + prefix, (k) => onExpired(prefix + k), options)
    const once = async () => {
      if (this.#watches.delete(once)) await stop()
    }
    this.#watches.add(once)
    return once
  }

  /** Ends the subscriber connections of `watchExpiry` (never the client passed in). */
  async close(): Promise<void> {
    await Promise.all([...[...this.#watches].map((stop) => stop()), this.#durable?.close()])
  }

  async #commit(key: string, data: Uint8Array, expiry: Date, mode: string, expected: string, forward = false) {
    // A random version: a deleted and re-created entry never repeats an old one.
    const version = secureRandom(8)
    const value = Buffer.concat([version, expiryBytes(expiry), data])
    const full = this.#sessions + key
    const operation = mode === 'set' ? 'commit' : 'commitIfVersion'
    const at = String(expiry.getTime())
    const args = [value, at, mode, Buffer.from(expected, 'hex')]
    // Only a forward pays for its marker: a session's commit stays one key, four arguments.
    const keys = forward ? [full, forwardMarker(full)] : [full]
    if (forward) args.push(String(expiry.getTime() + MARKER_MS))
    const attempt = async () => {
      if (forward || mode === 'if') {
        return this.#durable !== undefined ? this.#durable.script(operation, COMMIT, keys, args) : run(this.#client, COMMIT, keys, args, operation)
      }
      // Unconditional, or only if absent (a new session): one plain SET, no script to run.
      if (mode === 'set') return this.#write(operation, (c) => c.set(full, value, 'PXAT', at))
      const created = await this.#write(operation, (c) => c.set(full, value, 'PXAT', at, 'NX'))
      if (created !== null) return created
      // Taken: by another session (two random keys colliding: never, in practice), or by
      // this very commit, resent after its reply was lost (ioredis resends on reconnect,
      // the window retries). Only this rare path pays a second round trip to tell them apart.
      const current = await this.#client.getrangeBuffer(full, 0, 7)
      return current.equals(version) ? 'OK' : null
    }
    return (await retrying(attempt, this.#retry)) === null ? null : version.toString('hex')
  }

  /** GET of one entry, retried within the window. */
  #get(full: string): Promise<Buffer | null> {
    return retrying(() => this.#client.getBuffer(full), this.#retry)
  }

  /** A write command: through the durable writes with `waitReplicas`, else on the client. */
  #write(operation: string, add: (c: ChainableCommander) => unknown): Promise<unknown> {
    return this.#durable !== undefined ? this.#durable.command(operation, add) : send(this.#client, add, undefined, operation)
  }
}
