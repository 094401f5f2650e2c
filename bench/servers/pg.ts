/**
 * The Postgres side of the Postgres contenders: a pg Pool on the harness's Postgres
 * (`BENCH_PG_URL`, default the project's private instance on 5440, started by
 * scripts/up-postgres.sh) whose `query` is wrapped with a counter, for `/__queries`.
 * Counting happens in the bench server only, the same way for every contender: each
 * statement either store sends through the pool (by its first SQL word) is one query.
 */
import pg from 'pg'

/** The harness's Postgres URL. */
export const pgUrl = (): string => process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5440/test'

/** This contender's own table name (a plain identifier). */
export const pgTable = (): string => `bench_${(process.env.BENCH_NAME ?? 'bench').replace(/[^A-Za-z0-9]/g, '_')}`.slice(0, 40)

/** A pool whose every `query` is counted, and the counts as JSON. */
export function countedPool(): { pool: pg.Pool; queries: () => string } {
  const pool = new pg.Pool({ connectionString: pgUrl(), max: 10 })
  pool.on('error', () => {})
  const counts: Record<string, number> = {}
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown
  ;(pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0]
    const text = typeof first === 'string' ? first : String((first as { text?: string } | undefined)?.text ?? '')
    const kind = (/^\s*(\w+)/.exec(text)?.[1] ?? 'other').toLowerCase()
    counts[kind] = (counts[kind] ?? 0) + 1
    return query(...args)
  }
  return { pool, queries: () => JSON.stringify(counts) }
}
