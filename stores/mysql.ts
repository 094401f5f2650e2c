import { secureRandom } from '../lib/token.js'
import { ConfigError } from '../lib/errors.js'
import type { BatchStore, FoundEntry, TouchStore, UserIndexStore, VersionedEntry, VersionedStore } from '../lib/store.js'
import { CleanupTimer, cleanupLockName, cleanupPass, type CleanupResult } from './mysql-cleanup.js'
import { errorCode, isTransient, matchedRows, MySQLClient, type MySQLDatabase } from './mysql-client.js'
import { validateOptions, type MySQLStoreOptions } from './mysql-options.js'
import { prepareTable, quoteTable } from './mysql-schema.js'

export type { MySQLDatabase } from './mysql-client.js'
export type { MySQLStoreOptions } from './mysql-options.js'
export type { CleanupResult } from './mysql-cleanup.js'
export { createTableSql } from './mysql-schema.js'

// Versions are random 53-bit integers: exact as JS numbers, and a deleted-then-recreated
// row never reuses the version an old reader holds.
const newVersion = () => Number(secureRandom(8).readBigUInt64BE() >> 11n)
const bytes = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength)
const noop = () => {}
/** Ids per `IN (…)` list of `findMany` / `deleteMany`: one statement each. */
const IN_LIST = 1000
const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))
const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ')

/**
 * Sessions in a MySQL or MariaDB table, through the user's mysql2 `Pool` or
 * `PoolCluster` (promise or callback flavour; the store never ends it). Implements the
 * whole contract: versions (a version column), touch, the user index (an indexed user
 * column), `all()` (keyset pages) and batches (`IN (…)` lists). Each read is one query and a matching commit one
 * statement; expired rows are deleted in batches by at most one process at a time.
 *
 * The table is checked (or created, with `createTable`) at startup: await `ready`, or
 * build with {@link MySQLStore.create}, so a missing table or column fails at boot.
 *
 * @example
 * ```ts
 * import mysql from 'mysql2/promise'
 * const pool = mysql.createPool({ uri: 'mysql://app@db/app', connectTimeout: 3000 })
 * const store = await MySQLStore.create(pool, { createTable: true })
 * const manager = new SessionManager({ store })
 * ```
 */
export class MySQLStore implements VersionedStore, TouchStore, UserIndexStore, BatchStore {
  readonly name = 'MySQLStore'
  readonly #client: MySQLClient
  readonly #table: string
  readonly #tableName: string
  readonly #create: boolean
  readonly #page: number
  readonly #batch: number
  readonly #now: () => number
  readonly #syncWait: 'auto' | number | false
  readonly #timer: CleanupTimer | undefined
  #ready: Promise<void>
  #lock: string | undefined
  #syncPrefix = ''
  #closed = false

  constructor(db: MySQLDatabase, options: MySQLStoreOptions = {}) {
    if (db === null || typeof db !== 'object') throw new ConfigError('MySQLStore needs a mysql2 Pool or PoolCluster')
    const o = validateOptions(options)
    this.#tableName = o.table
    this.#table = quoteTable(o.table)
    this.#create = o.createTable
    this.#page = o.pageSize
    this.#batch = o.cleanupBatch
    this.#syncWait = o.syncWait
    this.#now = o.now
    this.#client = new MySQLClient(db, { ...options, queryTimeout: o.queryTimeout, retryWindow: o.retryWindow })
    if (o.cleanupInterval > 0) this.#timer = new CleanupTimer(() => this.cleanup(), o.cleanupInterval, options.onCleanupError ?? noop)
    this.#ready = this.#init()
    this.#ready.catch(noop) // the caller awaits `ready`; never an unhandled rejection
  }

  /**
   * Build a store and wait until its table is checked: the recommended entry point.
   *
   * @throws ConfigError when the table is missing (without `createTable`) or lacks a column.
   */
  static async create(db: MySQLDatabase, options?: MySQLStoreOptions): Promise<MySQLStore> {
    const store = new MySQLStore(db, options)
    await store.ready
    return store
  }

  /**
   * Settles once the startup check is done: rejects with a `ConfigError` when the table
   * is unusable, or with the connection error when the database is unreachable (the
   * store then checks again on its next call, so it recovers without a restart).
   */
  get ready(): Promise<void> {
    return this.#ready
  }

  /** The `GET_LOCK` name that admits one cleaner at a time (known once `ready`). */
  get cleanupLock(): string | undefined {
    return this.#lock
  }

  async find(key: string): Promise<Uint8Array | undefined> {
    const rows = await this.#read(`SELECT data FROM ${this.#table} WHERE id = ? AND expiry > ?`, [key, this.#now()])
    return (rows[0] as { data: Buffer } | undefined)?.data
  }

  async findVersioned(key: string): Promise<VersionedEntry | undefined> {
    const rows = await this.#read(
      `SELECT data, CAST(version AS CHAR) AS version, expiry FROM ${this.#table} WHERE id = ? AND expiry > ?`,
      [key, this.#now()],
    )
    const row = rows[0] as { data: Buffer; version: string; expiry: number | string } | undefined
    return row && { data: row.data, version: String(row.version), expiry: new Date(Number(row.expiry)) }
  }

  async commit(key: string, data: Uint8Array, expiry: Date): Promise<void> {
    // An expired row being replaced also loses its user (assignments run left to right).
    await this.#write(
      `INSERT INTO ${this.#table} (id, data, expiry, version) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE ` +
        'user_id = IF(expiry > ?, user_id, NULL), data = VALUES(data), expiry = VALUES(expiry), version = VALUES(version)',
      [key, bytes(data), expiry.getTime(), newVersion(), this.#now()],
    )
  }

  async commitIfVersion(key: string, data: Uint8Array, expiry: Date, version: string | undefined): Promise<string | null> {
    const next = newVersion()
    const now = this.#now()
    // `OR version = next` makes a retry idempotent: if the first attempt landed but its
    // answer was lost with the connection, the retry still reports success.
    try {
      if (version !== undefined) {
        const old = /^\d{1,16}$/.test(version) ? Number(version) : NaN
        if (!Number.isSafeInteger(old)) return null
        const result = await this.#write(
          `UPDATE ${this.#table} SET data = ?, expiry = ?, version = ? WHERE id = ? AND expiry > ? AND version IN (?, ?)`,
          [bytes(data), expiry.getTime(), next, key, now, old, next],
          conflictsAreFinal,
        )
        return matchedRows(result) === 1 ? String(next) : null
      }
      try {
        await this.#write(
          `INSERT INTO ${this.#table} (id, data, expiry, version) VALUES (?, ?, ?, ?)`,
          [key, bytes(data), expiry.getTime(), next],
          conflictsAreFinal,
        )
        return String(next)
      } catch (err) {
        if (errorCode(err) !== 'ER_DUP_ENTRY') throw err
      }
      // The key exists: take it over only if it has expired.
      const result = await this.#write(
        `UPDATE ${this.#table} SET user_id = NULL, data = ?, expiry = ?, version = ? WHERE id = ? AND (expiry <= ? OR version = ?)`,
        [bytes(data), expiry.getTime(), next, key, now, next],
        conflictsAreFinal,
      )
      return matchedRows(result) === 1 ? String(next) : null
    } catch (err) {
      // Galera certification failure: a concurrent write to this row won. A conflict.
      if (errorCode(err) === 'ER_LOCK_DEADLOCK') return null
      throw err
    }
  }

  async touch(key: string, expiry: Date): Promise<void> {
    await this.#write(`UPDATE ${this.#table} SET expiry = ? WHERE id = ? AND expiry > ?`, [expiry.getTime(), key, this.#now()])
  }

  async delete(key: string): Promise<void> {
    await this.#write(`DELETE FROM ${this.#table} WHERE id = ?`, [key])
  }

  /** Live entries whose key starts with `prefix`, in key order, `pageSize` rows per query. */
  async *all(prefix: string): AsyncIterable<[string, Uint8Array]> {
    const like = `${prefix.replace(/[!%_]/g, '!$&')}%`
    let after = ''
    for (;;) {
      const rows = (await this.#read(
        `SELECT id, data FROM ${this.#table} WHERE id LIKE ? ESCAPE '!' AND id > ? AND expiry > ? ORDER BY id LIMIT ?`,
        [like, after, this.#now(), this.#page],
      )) as { id: string; data: Buffer }[]
      for (const row of rows) yield [row.id, row.data]
      const last = rows.at(-1)
      if (rows.length < this.#page || last === undefined) return
      after = last.id
    }
  }

  /** Bind session `key` to `user` (a session has at most one user; `expiry` is the row's own). */
  async addToUser(user: string, key: string, _expiry: Date): Promise<void> {
    await this.#write(`UPDATE ${this.#table} SET user_id = ? WHERE id = ?`, [user, key])
  }

  async listUser(user: string): Promise<string[]> {
    const rows = await this.#read(`SELECT id FROM ${this.#table} WHERE user_id = ? AND expiry > ?`, [user, this.#now()])
    return (rows as { id: string }[]).map((r) => r.id)
  }

  async removeFromUser(user: string, key: string): Promise<void> {
    await this.#write(`UPDATE ${this.#table} SET user_id = NULL WHERE id = ? AND user_id = ?`, [key, user])
  }

  /** One `SELECT … WHERE id IN (…)` per 1,000 keys, sent at once (over the pool's connections). */
  async findMany(keys: readonly string[]): Promise<Array<FoundEntry | undefined>> {
    const found = new Map<string, FoundEntry>()
    const now = this.#now()
    await Promise.all(
      chunks([...new Set(keys)], IN_LIST).map(async (ids) => {
        const rows = (await this.#read(
          `SELECT id, data, CAST(version AS CHAR) AS version, expiry FROM ${this.#table} WHERE id IN (${marks(ids.length)}) AND expiry > ?`,
          [...ids, now],
        )) as { id: string; data: Buffer; version: string; expiry: number | string }[]
        for (const row of rows) {
          found.set(row.id, { data: row.data, version: String(row.version), expiry: new Date(Number(row.expiry)) })
        }
      }),
    )
    return keys.map((key) => found.get(key))
  }

  /**
   * One `DELETE … WHERE id IN (…)` per 1,000 keys, one after the other. The user index
   * is the row's own column, so `user` needs no statement of its own.
   */
  async deleteMany(keys: readonly string[], _user?: string): Promise<void> {
    for (const ids of chunks([...new Set(keys)], IN_LIST)) {
      await this.#write(`DELETE FROM ${this.#table} WHERE id IN (${marks(ids.length)})`, ids)
    }
  }

  /**
   * Delete expired rows now, in batches of `cleanupBatch`, unless another process holds
   * the cleanup lock (then `ran` is false). The timer calls this; tests and cron jobs may too.
   */
  async cleanup(): Promise<CleanupResult> {
    await this.#whenReady()
    const lock = this.#lock ?? ''
    return cleanupPass(this.#client, {
      table: this.#table,
      lock,
      batch: this.#batch,
      now: this.#now,
      stopped: () => this.#closed,
    })
  }

  /** Stop the cleanup timer (waiting for a running pass). The user's pool stays open. */
  async close(): Promise<void> {
    this.#closed = true
    await this.#timer?.stop()
  }

  async #init(): Promise<void> {
    const server = await prepareTable(this.#client, this.#tableName, this.#create)
    this.#lock = cleanupLockName(server.database, this.#tableName)
    const mask = this.#syncWait === 'auto' ? (server.galera && server.mariadb ? 3 : 0) : this.#syncWait || 0
    this.#syncPrefix = mask > 0 ? `SET STATEMENT wsrep_sync_wait=${mask} FOR ` : ''
    if (!this.#closed) this.#timer?.start()
  }

  async #whenReady(): Promise<void> {
    try {
      await this.#ready
    } catch (err) {
      if (err instanceof ConfigError) throw err
      // The database was unreachable at startup: check again now.
      this.#ready = this.#init()
      this.#ready.catch(noop)
      await this.#ready
    }
  }

  async #read(sql: string, values: (string | number)[]): Promise<unknown[]> {
    await this.#whenReady()
    return (await this.#client.run(this.#syncPrefix + sql, values)) as unknown[]
  }

  async #write(sql: string, values: (string | number | Buffer)[], retry = isTransient): Promise<unknown> {
    await this.#whenReady()
    // INSERT is left alone: Galera certification already catches a stale insert.
    const prefix = sql.startsWith('INSERT') ? '' : this.#syncPrefix
    return this.#client.run(prefix + sql, values, retry)
  }
}

// In commitIfVersion a certification conflict is an answer (null), not a reason to retry.
const conflictsAreFinal = (err: unknown) => isTransient(err) && errorCode(err) !== 'ER_LOCK_DEADLOCK'
