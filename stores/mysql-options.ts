/**
 * Options of the MySQL store, and their validation (a bad option throws `ConfigError`
 * at construction, naming the option and what was expected).
 */
import { z } from 'zod'
import { MAX_TIMER_MS } from '../lib/config.js'
import { functionOption, parseOptions, wholeNumber, wholeOption } from '../lib/options.js'

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

const ms = (fallback: number) => wholeOption(0, MAX_TIMER_MS, fallback, `a whole number of ms from 0 to ${MAX_TIMER_MS}`)

const schema = z.strictObject({
  table: z.string({ error: 'expected a table name' }).default('sessions'),
  createTable: z.boolean({ error: 'expected a boolean' }).default(false),
  cleanupInterval: ms(300_000),
  cleanupBatch: wholeOption(1, 100_000, 500),
  pageSize: wholeOption(1, 10_000, 100),
  queryTimeout: ms(5000),
  retryWindow: wholeNumber(0, MAX_TIMER_MS, `a whole number of ms from 0 to ${MAX_TIMER_MS}`).optional(),
  syncWait: z
    .union([z.literal('auto'), z.literal(false), z.number().int().min(0).max(15)], { error: "expected 'auto', false or a whole number from 0 to 15" })
    .default('auto'),
  pattern: z.string({ error: 'expected a PoolCluster node pattern' }).optional(),
  selector: z.enum(['RR', 'RANDOM', 'ORDER'], { error: "expected 'RR', 'RANDOM' or 'ORDER'" }).optional(),
  now: functionOption<() => number>().default(() => Date.now),
  onCleanupError: functionOption<(err: unknown) => void>().optional(),
})

/** Apply defaults and check every option; throws `ConfigError` naming every bad one. */
export function validateOptions(options: MySQLStoreOptions): ResolvedMySQLOptions {
  const o = parseOptions('MySQLStore', schema, options)
  return { ...o, retryWindow: o.retryWindow }
}
