/**
 * One way to talk to whatever mysql2 object the user handed to `MySQLStore`: a Pool or
 * a PoolCluster, promise or callback flavour. Promise wrappers are unwrapped to their
 * callback core so there is a single code path; the store never creates, ends or
 * reconfigures the user's pool.
 */
import type { Pool, PoolCluster, PoolConnection } from 'mysql2'
import type { Pool as PromisePool, PoolCluster as PromisePoolCluster } from 'mysql2/promise'
import { StoreError } from '../lib/errors.js'
import { retrying } from './retry.js'

/** What `MySQLStore` accepts: a mysql2 `Pool` or `PoolCluster`, either flavour. */
export type MySQLDatabase = Pool | PoolCluster | PromisePool | PromisePoolCluster

/** A parameter the store passes to a statement. */
export type SqlValue = string | number | Buffer | null

/** A SELECT's rows or a write's result header (only the fields the store reads). */
export interface SqlResult {
  affectedRows?: number
  info?: string
}

type Callback = (err: Error | null, result?: unknown) => void
interface QueryOptions {
  sql: string
  values: SqlValue[]
  timeout?: number
}
/** The callback-style surface shared by a core Pool and a PoolCluster namespace. */
interface Source {
  query(options: QueryOptions, cb: Callback): unknown
  getConnection(cb: (err: Error | null, conn?: PoolConnection) => void): void
}
interface CoreConnection {
  query(options: QueryOptions, cb: Callback): unknown
  release(): void
  destroy(): void
}

/** Options of {@link MySQLClient}; see `MySQLStoreOptions` for their meaning. */
export interface MySQLClientOptions {
  pattern?: string
  selector?: 'RR' | 'RANDOM' | 'ORDER'
  queryTimeout?: number
  retryWindow?: number
}

/** Runs one statement on a connection from `conn`. */
export type Runner = (sql: string, values?: SqlValue[]) => Promise<unknown>

// Errors after which the same statement may succeed on another connection or node:
// the connection died (node killed, server restarted), the node left the primary
// component (1047) or lost it while committing (1180), was shutting down, Galera's
// certification aborted us (1213), or every node of a PoolCluster is offline for its
// `restoreNodeTimeout` after refusing connections (POOL_NONEONLINE).
const TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_UNKNOWN_COM_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_QUERY_INTERRUPTED',
  'ER_LOCK_DEADLOCK',
  'ER_ERROR_DURING_COMMIT',
  'POOL_NONEONLINE',
])

/** The mysql2 error code of `err` (`ER_DUP_ENTRY`, `ECONNREFUSED`, …), if any. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** True when retrying the statement once, on a fresh connection, can succeed. */
export function isTransient(err: unknown): boolean {
  if ((err as { fatal?: unknown } | null)?.fatal === true) return true
  const code = errorCode(err)
  return code !== undefined && TRANSIENT.has(code)
}

/** Rows a write statement matched, whatever the connection's FOUND_ROWS flag says. */
export function matchedRows(result: unknown): number {
  const header = result as SqlResult
  const matched = /Rows matched:\s*(\d+)/.exec(header.info ?? '')
  return matched?.[1] !== undefined ? Number(matched[1]) : (header.affectedRows ?? 0)
}

/**
 * The store's view of the user's pool: statements with a per-query timeout and one
 * retry on a transient failure, and a dedicated connection for session-scoped work
 * (user locks).
 */
export class MySQLClient {
  readonly #source: Source
  readonly #timeout: number | undefined
  readonly #window: number
  /** True when the user passed a PoolCluster. */
  readonly cluster: boolean

  constructor(db: MySQLDatabase, options: MySQLClientOptions = {}) {
    const wrapped = db as unknown as { pool?: unknown; poolCluster?: unknown }
    const core = (wrapped.poolCluster ?? wrapped.pool ?? db) as unknown as Source & {
      of?: (pattern: string, selector: string) => Source
    }
    this.cluster = typeof core.of === 'function'
    this.#source =
      typeof core.of === 'function' ? core.of(options.pattern ?? '*', options.selector ?? 'RR') : core
    this.#timeout = options.queryTimeout ? options.queryTimeout : undefined
    this.#window = options.retryWindow ?? (this.cluster ? 5000 : 0)
  }

  /** Run `sql` once. */
  query(sql: string, values: SqlValue[] = []): Promise<unknown> {
    return call(this.#source, this.#options(sql, values))
  }

  /**
   * Run `sql`; when an attempt fails with an error `retry` accepts, run it again on a
   * fresh connection (with a PoolCluster, the next node): once after 50 ms, then with a
   * growing pause for as long as the retry window, counted from the first attempt, lasts.
   */
  run(sql: string, values: SqlValue[] = [], retry: (err: unknown) => boolean = isTransient): Promise<unknown> {
    // A killed server drops all its connections at once; pausing lets the pool see
    // them close, so the retry gets a live connection (or, in a cluster, a live node).
    // A cluster without a primary component (1047) needs seconds: the pause grows.
    return retrying(() => this.query(sql, values), { window: this.#window, retryable: retry, always: 1 })
  }

  /**
   * Run `work` on one connection of its own, released afterwards (destroyed when it
   * failed, so session state such as user locks never returns to the pool).
   */
  async withConnection<T>(work: (run: Runner) => Promise<T>): Promise<T> {
    const conn = await new Promise<CoreConnection>((resolve, reject) =>
      this.#source.getConnection((err, c) =>
        err || !c
          ? reject(err ?? new StoreError('MySQLStore', 'getConnection', { detail: 'the pool answered with neither a connection nor an error' }))
          : resolve(c as unknown as CoreConnection),
      ),
    )
    try {
      const result = await work((sql, values = []) => call(conn, this.#options(sql, values)))
      conn.release()
      return result
    } catch (err) {
      conn.destroy()
      throw err
    }
  }

  #options(sql: string, values: SqlValue[]): QueryOptions {
    return this.#timeout === undefined ? { sql, values } : { sql, values, timeout: this.#timeout }
  }
}

function call(target: Pick<Source, 'query'>, options: QueryOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    target.query(options, (err, result) => (err ? reject(err) : resolve(result)))
  })
}
