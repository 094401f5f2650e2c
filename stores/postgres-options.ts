/**
 * Options of the Postgres store, and their validation with zod: a bad option throws
 * `ConfigError` at construction, naming the option and what was expected, in the
 * format of the MySQL store (`PostgresStore option "pageSize" must be …, got 0`).
 */
import { z } from 'zod'
import { ConfigError } from '../lib/errors.js'

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

const positive = z.number().int().positive()
const nonNegative = z.number().int().nonnegative()
const fn = <T>() => z.custom<T>((f) => typeof f === 'function')

// Each entry: the schema, and what the message says was expected.
const fields = {
  table: [z.string().regex(TABLE_NAME), `a plain identifier matching ${TABLE_NAME}`],
  schema: [z.string().regex(SCHEMA_NAME), `a plain identifier matching ${SCHEMA_NAME}`],
  createTable: [z.boolean(), 'a boolean'],
  cleanupInterval: [nonNegative, 'a non-negative integer'],
  cleanupBatch: [positive.max(100_000), 'a positive integer (at most 100 000)'],
  pageSize: [positive.max(10_000), 'a positive integer (at most 10 000)'],
  queryTimeout: [nonNegative, 'a non-negative integer'],
  retryWindow: [nonNegative, 'a non-negative integer'],
  maxDataSize: [positive.max(1024 ** 3 - 1), 'a positive integer below 1 GiB (the bytea limit)'],
  now: [fn<() => number>(), 'a function returning ms since the epoch'],
  onCleanupError: [fn<(err: unknown) => void>(), 'a function'],
} as const satisfies Record<keyof PostgresStoreOptions, readonly [z.ZodType, string]>

const schema = z.strictObject(
  Object.fromEntries(Object.entries(fields).map(([name, [type]]) => [name, type.optional()])) as {
    [K in keyof typeof fields]: z.ZodOptional<(typeof fields)[K][0]>
  },
)

const show = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value))

/** Apply defaults and check every option; throws `ConfigError` on the first bad one. */
export function validateOptions(options: PostgresStoreOptions): ResolvedPostgresOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(`PostgresStore options must be an object, got ${show(options)}`)
  }
  const parsed = schema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    if (issue?.code === 'unrecognized_keys') {
      throw new ConfigError(`PostgresStore has no option ${issue.keys.map((k) => `"${k}"`).join(', ')}`)
    }
    const name = String(issue?.path[0]) as keyof typeof fields
    const value = (options as Record<string, unknown>)[name]
    throw new ConfigError(`PostgresStore option "${name}" must be ${fields[name]?.[1] ?? 'valid'}, got ${show(value)}`)
  }
  const o = parsed.data
  return {
    table: o.table ?? 'sessions',
    schema: o.schema,
    createTable: o.createTable ?? false,
    cleanupInterval: o.cleanupInterval ?? 300_000,
    cleanupBatch: o.cleanupBatch ?? 500,
    pageSize: o.pageSize ?? 100,
    queryTimeout: o.queryTimeout ?? 5000,
    retryWindow: o.retryWindow ?? 0,
    maxDataSize: o.maxDataSize ?? 16 * 1024 * 1024,
    now: o.now ?? Date.now,
    onCleanupError: o.onCleanupError ?? (() => {}),
  }
}
