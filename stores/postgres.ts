import type { Pool } from 'pg'
import { ConfigError, StoreError, TooLargeError } from '../lib/errors.js'
import { secureRandom } from '../lib/token.js'
import type { BatchStore, FoundEntry, TouchStore, UserIndexStore, VersionedEntry, VersionedStore } from '../lib/store.js'
import { CleanupTimer, cleanupPass, type CleanupResult } from './postgres-cleanup.js'
import { PostgresClient, type SqlValue } from './postgres-client.js'
import { validateOptions, type PostgresStoreOptions } from './postgres-options.js'
import { lockKey, prepareTable, tableName } from './postgres-schema.js'

export type { PostgresStoreOptions } from './postgres-options.js'
export type { CleanupResult } from './postgres-cleanup.js'
export { createTableSql } from './postgres-schema.js'

// Versions are random 53-bit integers: exact as JS numbers, and a deleted-then-recreated
// row never reuses the version an old reader holds.
const newVersion = () => Number(secureRandom(8).readBigUInt64BE() >> 11n)
const bytes = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength)
const noop = () => {}
const guarded = new WeakSet<object>()
// Btree index entries must stay under ~2.7 kB; keys and users are far shorter in practice.
const MAX_KEY = 1024
const badText = (s: string) => s.includes('\0') || Buffer.byteLength(s) > MAX_KEY

/**
 * Sessions in a PostgreSQL table, through the user's node-postgres `Pool` (the store
 * never ends it). Implements the whole contract: versions (a version column), touch,
 * the user index (an indexed user column) and `all()` (keyset pages). Each read is one
 * query and each commit one statement; expired rows are deleted in batches by at most
 * one process of the fleet at a time (`pg_try_advisory_lock`).
 *
 * The table is checked (or created, with `createTable`) at startup: await `ready`, or
 * build with {@link PostgresStore.create}, so a missing table, column or index fails at boot.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * const pool = new pg.Pool({ connectionString: 'postgres://app@db/app', connectionTimeoutMillis: 3000 })
 * const store = await PostgresStore.create(pool, { createTable: true })
 * const manager = new SessionManager({ store })
 * ```
 */
/** Keys per batched statement (findMany, deleteMany). */
const BATCH = 1000

export class PostgresStore implements VersionedStore, TouchStore, UserIndexStore, BatchStore {
  readonly name = 'PostgresStore'
  readonly #client: PostgresClient
  readonly #table: ReturnType<typeof tableName>
  readonly #o: ReturnType<typeof validateOptions>
  readonly #timer: CleanupTimer | undefined
  #ready: Promise<void>
  #lock: string | undefined
  #closed = false

  constructor(pool: Pool, options: PostgresStoreOptions = {}) {
    if (pool === null || typeof pool !== 'object' || typeof pool.query !== 'function' || typeof pool.connect !== 'function') {
      throw new ConfigError('PostgresStore needs a pg Pool')
    }
    this.#o = validateOptions(options)
    this.#table = tableName(this.#o.table, this.#o.schema)
    this.#client = new PostgresClient(pool, this.#o)
    // An idle pooled connection that the server drops (a restart) makes the pool emit
    // 'error'; with nobody listening that would crash the app. The next query reports
    // the outage, so one listener per pool (kept after close) just drops the event.
    if (!guarded.has(pool)) pool.on('error', noop)
    guarded.add(pool)
    if (this.#o.cleanupInterval > 0) this.#timer = new CleanupTimer(() => this.cleanup(), this.#o.cleanupInterval, this.#o.onCleanupError)
    this.#ready = this.#init()
    this.#ready.catch(noop) // the caller awaits `ready`; never an unhandled rejection
  }

  /**
   * Build a store and wait until its table is checked: the recommended entry point.
   *
   * @throws ConfigError when the table is missing (without `createTable`) or lacks a column or index.
   */
  static async create(pool: Pool, options?: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(pool, options)
    await store.ready
    return store
  }

  /**
   * Settles once the startup check is done: rejects with a `ConfigError` when the table
   * is unusable, or with the connection error when the server is unreachable (the store
   * then checks again on its next call, so it recovers without a restart).
   */
  get ready(): Promise<void> {
    return this.#ready
  }

  /** The advisory-lock key (a bigint as a string) that admits one cleaner at a time (known once `ready`). */
  get cleanupLock(): string | undefined {
    return this.#lock
  }

  async find(key: string): Promise<Uint8Array | undefined> {
    if (badText(key)) return undefined
    const rows = await this.#run(`SELECT data FROM ${this.#table.sql} WHERE id = $1 AND expiry > $2`, [key, this.#o.now()])
    return (rows[0] as { data: Buffer } | undefined)?.data
  }

  async findVersioned(key: string): Promise<VersionedEntry | undefined> {
    if (badText(key)) return undefined
    const rows = await this.#run(`SELECT data, version, expiry FROM ${this.#table.sql} WHERE id = $1 AND expiry > $2`, [key, this.#o.now()])
    const row = rows[0] as { data: Buffer; version: string; expiry: string } | undefined
    return row && { data: row.data, version: String(row.version), expiry: new Date(Number(row.expiry)) }
  }

  /** The live entries of `keys`, in order: one `= ANY($1)` statement per {@link BATCH} keys. */
  async findMany(keys: readonly string[]): Promise<Array<FoundEntry | undefined>> {
    const found = new Map<string, FoundEntry>()
    const valid = [...new Set(keys.filter((k) => !badText(k)))]
    const chunks = []
    for (let i = 0; i < valid.length; i += BATCH) chunks.push(valid.slice(i, i + BATCH))
    const now = this.#o.now()
    const results = await Promise.all(
      chunks.map((chunk) => this.#run(`SELECT id, data, version, expiry FROM ${this.#table.sql} WHERE id = ANY($1) AND expiry > $2`, [chunk, now])),
    )
    for (const rows of results) {
      for (const row of rows as Array<{ id: string; data: Buffer; version: string; expiry: string }>) {
        found.set(row.id, { data: row.data, version: String(row.version), expiry: new Date(Number(row.expiry)) })
      }
    }
    return keys.map((k) => found.get(k))
  }

  /** Delete `keys` (the user index is a column of the row: it goes with it), {@link BATCH} per statement. */
  async deleteMany(keys: readonly string[], _user?: string): Promise<void> {
    const valid = [...new Set(keys.filter((k) => !badText(k)))]
    for (let i = 0; i < valid.length; i += BATCH) {
      await this.#run(`DELETE FROM ${this.#table.sql} WHERE id = ANY($1)`, [valid.slice(i, i + BATCH)])
    }
  }

  async commit(key: string, data: Uint8Array, expiry: Date): Promise<void> {
    this.#checkWrite('commit', key, data)
    // Replacing an expired row also drops its user; SET reads the row as it was.
    await this.#run(
      `INSERT INTO ${this.#table.sql} AS t (id, data, expiry, version) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET ` +
        'user_id = CASE WHEN t.expiry > $5 THEN t.user_id END, data = EXCLUDED.data, expiry = EXCLUDED.expiry, version = EXCLUDED.version',
      [key, bytes(data), expiry.getTime(), newVersion(), this.#o.now()],
    )
  }

  async commitIfVersion(key: string, data: Uint8Array, expiry: Date, version: string | undefined): Promise<string | null> {
    this.#checkWrite('commitIfVersion', key, data)
    const next = newVersion()
    // `version = next` makes a retry idempotent: if the first attempt landed but its
    // answer was lost with the connection, the retry still reports success.
    if (version !== undefined) {
      if (!/^\d{1,16}$/.test(version)) return null
      const updated = await this.#result(
        `UPDATE ${this.#table.sql} SET data = $1, expiry = $2, version = $3 WHERE id = $4 AND expiry > $5 AND version IN ($6, $3)`,
        [bytes(data), expiry.getTime(), next, key, this.#o.now(), version],
      )
      return updated === 1 ? String(next) : null
    }
    // Create if absent, or take over a row that has expired: one statement either way.
    const created = await this.#result(
      `INSERT INTO ${this.#table.sql} AS t (id, data, expiry, version) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET ` +
        'user_id = NULL, data = EXCLUDED.data, expiry = EXCLUDED.expiry, version = EXCLUDED.version WHERE t.expiry <= $5 OR t.version = $4',
      [key, bytes(data), expiry.getTime(), next, this.#o.now()],
    )
    return created === 1 ? String(next) : null
  }

  async touch(key: string, expiry: Date): Promise<void> {
    if (badText(key)) return
    await this.#run(`UPDATE ${this.#table.sql} SET expiry = $1 WHERE id = $2 AND expiry > $3`, [expiry.getTime(), key, this.#o.now()])
  }

  async delete(key: string): Promise<void> {
    if (badText(key)) return
    await this.#run(`DELETE FROM ${this.#table.sql} WHERE id = $1`, [key])
  }

  /** Live entries whose key starts with `prefix`, in key order, `pageSize` rows per query. */
  async *all(prefix: string): AsyncIterable<[string, Uint8Array]> {
    if (prefix.includes('\0')) return
    const like = `${prefix.replace(/[!%_]/g, '!$&')}%`
    let after = ''
    for (;;) {
      const rows = (await this.#run(
        `SELECT id, data FROM ${this.#table.sql} WHERE id LIKE $1 ESCAPE '!' AND id > $2 AND expiry > $3 ORDER BY id LIMIT $4`,
        [like, after, this.#o.now(), this.#o.pageSize],
      )) as { id: string; data: Buffer }[]
      for (const row of rows) yield [row.id, row.data]
      const last = rows.at(-1)
      if (rows.length < this.#o.pageSize || last === undefined) return
      after = last.id
    }
  }

  /** Bind session `key` to `user` (a session has at most one user; `expiry` is the row's own). */
  async addToUser(user: string, key: string, _expiry: Date): Promise<void> {
    this.#checkWrite('addToUser', user)
    if (badText(key)) return
    await this.#run(`UPDATE ${this.#table.sql} SET user_id = $1 WHERE id = $2`, [user, key])
  }

  async listUser(user: string): Promise<string[]> {
    if (badText(user)) return []
    const rows = await this.#run(`SELECT id FROM ${this.#table.sql} WHERE user_id = $1 AND expiry > $2`, [user, this.#o.now()])
    return (rows as { id: string }[]).map((r) => r.id)
  }

  async removeFromUser(user: string, key: string): Promise<void> {
    if (badText(user) || badText(key)) return
    await this.#run(`UPDATE ${this.#table.sql} SET user_id = NULL WHERE id = $1 AND user_id = $2`, [key, user])
  }

  /**
   * Delete expired rows now, in batches of `cleanupBatch`, unless another process holds
   * the cleanup lock (then `ran` is false). The timer calls this; tests and cron jobs may too.
   */
  async cleanup(): Promise<CleanupResult> {
    await this.#whenReady()
    const plan = { table: this.#table.sql, lock: this.#lock ?? '0', batch: this.#o.cleanupBatch, now: this.#o.now, stopped: () => this.#closed, timeout: this.#o.queryTimeout }
    return cleanupPass(this.#client, plan)
  }

  /** Stop the cleanup timer (waiting for a running pass). The user's pool stays open. */
  async close(): Promise<void> {
    this.#closed = true
    await this.#timer?.stop()
  }

  async #init(): Promise<void> {
    const info = await prepareTable(this.#client, this.#table, this.#o.createTable)
    this.#lock = lockKey(`session-manager:cleanup:${info.schema}.${this.#table.table}`)
    if (!this.#closed) this.#timer?.start()
  }

  async #whenReady(): Promise<void> {
    try {
      await this.#ready
    } catch (err) {
      if (err instanceof ConfigError) throw err
      // The server was unreachable at startup: check again now.
      this.#ready = this.#init()
      this.#ready.catch(noop)
      await this.#ready
    }
  }

  // Refused before any query: keys and users the table cannot hold, data over the limit.
  #checkWrite(operation: string, key: string, data?: Uint8Array): void {
    if (badText(key)) {
      throw new StoreError(this.name, operation, { cause: new RangeError(`key or user is over ${MAX_KEY} bytes or contains NUL`) })
    }
    if (data !== undefined && data.byteLength > this.#o.maxDataSize) {
      throw new TooLargeError(data.byteLength, this.#o.maxDataSize, 'PostgresStore session data')
    }
  }

  async #run(text: string, values: SqlValue[]): Promise<unknown[]> {
    await this.#whenReady()
    return (await this.#client.run(text, values)).rows
  }

  async #result(text: string, values: SqlValue[]): Promise<number> {
    await this.#whenReady()
    return (await this.#client.run(text, values)).rowCount ?? 0
  }
}
