/**
 * Options of the MySQL store, and their validation (a bad option throws `ConfigError`
 * at construction, naming the option and what was expected).
 */
import { ConfigError } from '../lib/errors.js'

/** Options of `MySQLStore`. */
export interface MySQLStoreOptions {
  /** Table name, a plain identifier. Default `sessions`. */
  table?: string
  /** Create the table at startup when it is missing. Default `false`. */
  createTable?: boolean
  /** Expired-row cleanup period in ms. Default 300 000 (5 min); 0 disables it. */
  cleanupInterval?: number
  /** Rows per cleanup DELETE. Default 500. */
  cleanupBatch?: number
  /** Rows per page of `all()`. Default 100. */
  pageSize?: number
  /** Per-statement timeout in ms (mysql2 `timeout`). Default 5000; 0 disables it. */
  queryTimeout?: number
  /**
   * How long, in ms from the first attempt, a statement that failed with a transient
   * error (connection lost or refused, a non-primary Galera node, a certification abort)
   * keeps being retried, with pauses growing from 50 ms to 500 ms. One retry always
   * happens. Default 5000 with a PoolCluster (rides out an eviction or a brief
   * non-primary spell), 0 with a Pool (a single server that is down is reported at once).
   * The manager's `storeTimeout` still bounds each request.
   */
  retryWindow?: number
  /**
   * `wsrep_sync_wait` for the store's statements on Galera (read-your-writes from any
   * node): `'auto'` uses 3 (reads, updates and deletes) when the server is a MariaDB
   * Galera node; a number forces that mask; `false` never sets it. Default `'auto'`.
   */
  syncWait?: 'auto' | number | false
  /** PoolCluster node pattern. Default `'*'`. */
  pattern?: string
  /** PoolCluster selector. Default `'RR'`. */
  selector?: 'RR' | 'RANDOM' | 'ORDER'
  /** Clock in ms, for expiry comparisons. Default `Date.now`. */
  now?: () => number
  /** Where cleanup errors go (the timer never throws). Default: ignored. */
  onCleanupError?: (err: unknown) => void
}

/** The options the store keeps, with their defaults applied. */
export interface ResolvedMySQLOptions {
  table: string
  createTable: boolean
  cleanupInterval: number
  cleanupBatch: number
  pageSize: number
  queryTimeout: number
  /** Left undefined when not given: its default depends on Pool or PoolCluster. */
  retryWindow: number | undefined
  syncWait: 'auto' | number | false
  now: () => number
}

const integer = (name: string, value: number | undefined, fallback: number, zero = false) => {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v < 0 || (v === 0 && !zero)) {
    throw new ConfigError(`MySQLStore option "${name}" must be a ${zero ? 'non-negative' : 'positive'} integer, got ${String(value)}`)
  }
  return v
}

/** Apply defaults and check every option; throws `ConfigError` on the first bad one. */
export function validateOptions(options: MySQLStoreOptions): ResolvedMySQLOptions {
  const syncWait = options.syncWait ?? 'auto'
  if (syncWait !== 'auto' && syncWait !== false && !(Number.isInteger(syncWait) && syncWait >= 0 && syncWait <= 15)) {
    throw new ConfigError(`MySQLStore option "syncWait" must be 'auto', false or 0-15, got ${String(syncWait)}`)
  }
  return {
    table: options.table ?? 'sessions',
    createTable: options.createTable === true,
    pageSize: integer('pageSize', options.pageSize, 100),
    cleanupBatch: integer('cleanupBatch', options.cleanupBatch, 500),
    cleanupInterval: integer('cleanupInterval', options.cleanupInterval, 300_000, true),
    queryTimeout: integer('queryTimeout', options.queryTimeout, 5000, true),
    retryWindow: options.retryWindow === undefined ? undefined : integer('retryWindow', options.retryWindow, 0, true),
    syncWait,
    now: options.now ?? Date.now,
  }
}
