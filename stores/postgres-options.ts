/**
 * Options of the Postgres store, and their validation with zod: a bad option throws
 * `ConfigError` at construction, naming the option and what was expected, in the
 * library's one format (`invalid PostgresStore options: option pageSize: expected …`).
 */
import { z } from 'zod'
import { retryWindowOption } from './retry.js'
import { MAX_TIMER_MS } from '../lib/config.js'
import { functionOption, parseOptions, wholeOption } from '../lib/options.js'

/** Options of `PostgresStore`. */
export interface PostgresStoreOptions {
  /**
   * Table name: a plain identifier of 1-48 characters (letters, digits, `_`; the store
   * derives its index names from it and they must stay within Postgres's 63). Default
   * `sessions`.
   */
  table?: string
  /** Schema of the table, a plain identifier. Default: the connection's `current_schema()`. */
  schema?: string
  /** Create the table (and its schema and indexes) at startup when missing. Default `false`. */
  createTable?: boolean
  /** Expired-row cleanup period in ms. Default 300 000 (5 min); 0 disables it. */
  cleanupInterval?: number
  /** Rows per cleanup DELETE. Default 500. */
  cleanupBatch?: number
  /** Rows per page of `all()`. Default 100. */
  pageSize?: number
  /** Per-statement timeout in ms (pg's `query_timeout`). Default 5000; 0 disables it. */
  queryTimeout?: number
  /**
   * How long, in ms from the first attempt, a statement that failed because its
   * connection died or the server was shutting down or starting keeps being retried,
   * with pauses growing from 50 ms to 500 ms. One retry always happens. Default 0.
   * The manager's `storeTimeout` still bounds each request.
   */
  retryWindow?: number
  /**
   * Largest session data the store writes, in bytes: a bigger commit is refused with
   * `TooLargeError` before any query. Default 16 MiB.
   */
  maxDataSize?: number
  /** Clock in ms, for expiry comparisons. Default `Date.now`. */
  now?: () => number
  /** Where cleanup errors go (the timer never throws). Default: ignored. */
  onCleanupError?: (err: unknown) => void
}

/** The options the store keeps, with their defaults applied. */
export interface ResolvedPostgresOptions {
  table: string
  schema: string | undefined
  createTable: boolean
  cleanupInterval: number
  cleanupBatch: number
  pageSize: number
  queryTimeout: number
  retryWindow: number
  maxDataSize: number
  now: () => number
  onCleanupError: (err: unknown) => void
}

/** Table names: a plain identifier whose derived index names fit in 63 characters. */
export const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/
/** Schema names: a plain identifier of Postgres's 63 characters at most. */
export const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

const identifier = (pattern: RegExp) => {
  const error = `expected a plain identifier matching ${pattern}`
  return z.string({ error }).regex(pattern, { error })
}

const schema = z.strictObject({
  table: identifier(TABLE_NAME).default('sessions'),
  schema: identifier(SCHEMA_NAME).optional(),
  createTable: z.boolean({ error: 'expected a boolean' }).default(false),
  cleanupInterval: wholeOption(0, MAX_TIMER_MS, 300_000, `a whole number of ms from 0 to ${MAX_TIMER_MS}`),
  cleanupBatch: wholeOption(1, 100_000, 500),
  pageSize: wholeOption(1, 10_000, 100),
  queryTimeout: wholeOption(0, MAX_TIMER_MS, 5000, `a whole number of ms from 0 to ${MAX_TIMER_MS}`),
  retryWindow: retryWindowOption(0),
  maxDataSize: wholeOption(1, 1024 ** 3 - 1, 16 * 1024 * 1024, 'a whole number of bytes below 1 GiB (the bytea limit)'),
  now: functionOption<() => number>().default(() => Date.now),
  onCleanupError: functionOption<(err: unknown) => void>().default(() => () => {}),
})

/** Apply defaults and check every option; throws `ConfigError` naming every bad one. */
export function validateOptions(options: PostgresStoreOptions): ResolvedPostgresOptions {
  const o = parseOptions('PostgresStore', schema, options)
  return { ...o, schema: o.schema }
}
