/**
 * The Postgres store's view of the user's node-postgres `Pool`: statements with a
 * per-query timeout and a retry when the connection died under them, and a client of
 * its own for session-scoped work (advisory locks, the table creation). The store never
 * creates, ends or reconfigures the pool.
 */
import type { Pool, PoolClient, QueryResult } from 'pg'
import { retrying } from './retry.js'

/** A parameter the store passes to a statement. */
export type SqlValue = string | number | Buffer | null | readonly string[]

/** Runs one statement on one connection. */
export type Runner = (text: string, values?: SqlValue[]) => Promise<QueryResult>

// Errors after which the same statement may succeed on a fresh connection: the socket
// failed, the server is shutting down (57P01 admin, 57P02 crash), starting up or in
// recovery (57P03), or pg saw the connection end. An error raised by the SQL itself
// (a constraint, a type) is never retried.
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '08000', '08003', '08006'])
const TRANSIENT_MESSAGES = /Connection terminated|connection (was )?(closed|ended)|Client has encountered a connection error/i

/** The pg or socket error code of `err` (`23505`, `ECONNREFUSED`, …), if any. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** True when running the statement again on a fresh connection can succeed. */
export function isTransient(err: unknown): boolean {
  const code = errorCode(err)
  if (code !== undefined) return TRANSIENT_CODES.has(code)
  return err instanceof Error && TRANSIENT_MESSAGES.test(err.message)
}

/** Options of {@link PostgresClient}; see `PostgresStoreOptions` for their meaning. */
export interface PostgresClientOptions {
  queryTimeout: number
  retryWindow: number
}

/** Statements over the user's pool, with the store's timeout and retry rules. */
export class PostgresClient {
  readonly #pool: Pool
  readonly #timeout: number | undefined
  readonly #window: number

  constructor(pool: Pool, options: PostgresClientOptions) {
    this.#pool = pool
    this.#timeout = options.queryTimeout > 0 ? options.queryTimeout : undefined
    this.#window = options.retryWindow
  }

  /**
   * Run `text`; when an attempt fails with a transient error, run it again (pg drops a
   * failed connection, so the retry gets a fresh one): once after 50 ms, then with a
   * growing pause while the retry window, counted from the first attempt, lasts.
   */
  run(text: string, values: SqlValue[] = []): Promise<QueryResult> {
    return retrying(() => this.#pool.query({ text, values, ...this.#limit() }), { window: this.#window, retryable: isTransient, always: 1 })
  }

  /**
   * Run `work` on a connection of its own, released afterwards — destroyed when the
   * work failed, so session state such as an advisory lock never returns to the pool
   * (the server releases a dead connection's locks itself).
   */
  async withConnection<T>(work: (run: Runner) => Promise<T>): Promise<T> {
    const client: PoolClient = await this.#pool.connect()
    // A checked-out client whose server goes away emits 'error'; unheard, it would crash.
    let broken: unknown
    const onError = (err: unknown) => {
      broken = err
    }
    client.on('error', onError)
    try {
      // The work bounds its statements on the server too; the client's own limit comes a
      // second later, so a statement the server cancels reports the server's reason.
      const limit = this.#timeout === undefined ? {} : { query_timeout: this.#timeout + 1000 }
      const result = await work((text, values = []) => client.query({ text, values, ...limit }))
      client.off('error', onError)
      client.release(broken instanceof Error ? broken : undefined)
      return result
    } catch (err) {
      client.off('error', onError)
      client.release(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  #limit(): { query_timeout?: number } {
    return this.#timeout === undefined ? {} : { query_timeout: this.#timeout }
  }
}
