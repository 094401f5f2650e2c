/**
 * The sessions table of `PostgresStore`: its quoted name, its DDL, its creation (one
 * process at a time) and the startup check that it has every column and index the
 * store's statements need.
 */
import { createHash } from 'node:crypto'
import { ConfigError } from '../lib/errors.js'
import type { PostgresClient, Runner } from './postgres-client.js'
import { SCHEMA_NAME, TABLE_NAME } from './postgres-options.js'

/** A table's names, checked and quoted. */
export interface TableName {
  /** Unquoted table name. */
  table: string
  /** Unquoted schema name, when one was configured. */
  schema: string | undefined
  /** The quoted, qualified name for SQL (`"app"."sessions"`, or `"sessions"`). */
  sql: string
}

const check = (what: 'table' | 'schema', name: unknown, rule: RegExp): string => {
  if (typeof name !== 'string' || !rule.test(name)) {
    throw new ConfigError(`PostgresStore option "${what}" must be a plain identifier matching ${rule}, got ${JSON.stringify(name)}`)
  }
  return name
}

/**
 * The table's names, quoted for SQL, after checking them (plain identifiers only, so
 * quoting is exact and nothing can be injected).
 *
 * @throws ConfigError when a name is anything but a plain identifier.
 */
export function tableName(table: unknown, schema?: unknown): TableName {
  const t = check('table', table, TABLE_NAME)
  const s = schema === undefined ? undefined : check('schema', schema, SCHEMA_NAME)
  return { table: t, schema: s, sql: s === undefined ? `"${t}"` : `"${s}"."${t}"` }
}

/**
 * The DDL of the sessions table and its indexes, for `createTable` or a hand-written
 * migration. Keys and users compare byte for byte (`COLLATE "C"`, which also lets a
 * prefix `LIKE` use the primary key); `expiry` is ms since the epoch; `version`
 * changes on every commit.
 *
 * @example
 * ```ts
 * console.log(createTableSql('sessions', 'app')) // paste into your migration
 * ```
 */
export function createTableSql(table: string, schema?: string): string {
  const name = tableName(table, schema)
  return `CREATE TABLE IF NOT EXISTS ${name.sql} (
  id text COLLATE "C" NOT NULL PRIMARY KEY,
  data bytea NOT NULL,
  expiry bigint NOT NULL,
  version bigint NOT NULL,
  user_id text COLLATE "C"
);
CREATE INDEX IF NOT EXISTS "${name.table}_expiry_idx" ON ${name.sql} (expiry);
CREATE INDEX IF NOT EXISTS "${name.table}_user_idx" ON ${name.sql} (user_id, expiry) WHERE user_id IS NOT NULL;`
}

// Every column the store uses, the types that work for it, and whether it must be NOT NULL.
const COLUMNS: Record<string, { types: readonly string[]; notNull: boolean }> = {
  id: { types: ['text', 'character varying'], notNull: true },
  data: { types: ['bytea'], notNull: true },
  expiry: { types: ['bigint'], notNull: true },
  version: { types: ['bigint'], notNull: true },
  user_id: { types: ['text', 'character varying'], notNull: false },
}

/** A 64-bit advisory-lock key, the same in every process for `name`. */
export function lockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE().toString()
}

/** What the startup check learnt: the schema the table lives in. */
export interface TableInfo {
  schema: string
}

/**
 * Check (or, with `create`, first create) the table: one query reads its columns and
 * indexes. Creation runs under a transaction-level advisory lock, so processes starting
 * together never trip over each other's `CREATE TABLE IF NOT EXISTS`.
 *
 * @throws ConfigError naming the table and what is missing or mistyped.
 */
export async function prepareTable(client: PostgresClient, name: TableName, create: boolean): Promise<TableInfo> {
  let found = await describe(client.run.bind(client), name)
  if (found === undefined && create) {
    await client.withConnection(async (run) => {
      await run('BEGIN')
      try {
        await run('SELECT pg_advisory_xact_lock($1)', [lockKey(`session-manager:create:${name.sql}`)])
        if (name.schema !== undefined) {
          const exists = await run('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name.schema])
          if (exists.rowCount === 0) await run(`CREATE SCHEMA IF NOT EXISTS "${name.schema}"`)
        }
        for (const statement of createTableSql(name.table, name.schema).split(';\n')) await run(statement)
        await run('COMMIT')
      } catch (err) {
        await run('ROLLBACK').catch(() => {})
        throw err
      }
    })
    found = await describe(client.run.bind(client), name)
  }
  const where = name.schema === undefined ? `table ${name.sql} (in the search_path)` : `table ${name.sql}`
  if (found === undefined) {
    throw new ConfigError(
      `PostgresStore: ${where} does not exist; create it (DDL in docs/stores/postgres.md) or pass createTable: true`,
    )
  }
  const problems: string[] = []
  for (const [column, rule] of Object.entries(COLUMNS)) {
    const c = found.columns.get(column)
    if (c === undefined) problems.push(`column "${column}" is missing`)
    else if (!rule.types.includes(c.type)) problems.push(`column "${column}" is ${c.type}, expected ${rule.types.join(' or ')}`)
    else if (rule.notNull && !c.notNull) problems.push(`column "${column}" must be NOT NULL`)
  }
  if (!found.indexes.some((i) => i.unique && i.columns.join() === 'id')) {
    problems.push('no primary key or unique index on (id)')
  }
  if (!found.indexes.some((i) => i.columns[0] === 'expiry')) problems.push('no index on (expiry), which cleanup needs')
  if (!found.indexes.some((i) => i.columns[0] === 'user_id')) problems.push('no index on (user_id, …), which the user index needs')
  if (problems.length > 0) {
    throw new ConfigError(
      `PostgresStore: table "${found.schema}"."${name.table}" does not fit: ${problems.join('; ')} (DDL in docs/stores/postgres.md)`,
    )
  }
  return { schema: found.schema }
}

interface Described {
  schema: string
  columns: Map<string, { type: string; notNull: boolean }>
  indexes: { unique: boolean; columns: string[] }[]
}

async function describe(run: Runner, name: TableName): Promise<Described | undefined> {
  // to_regclass resolves the name as the store's statements will (search_path included).
  const result = await run(
    `SELECT n.nspname AS schema,
       (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, NULL), a.attnotnull))
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       (SELECT json_agg(json_build_array(i.indisunique AND i.indpred IS NULL,
                 (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum)))
          FROM pg_index i WHERE i.indrelid = c.oid AND i.indisvalid) AS indexes
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')`,
    [name.sql],
  )
  const row = result.rows[0] as { schema: string; columns: [string, string, boolean][] | null; indexes: [boolean, string[] | null][] | null } | undefined
  if (row === undefined) return undefined
  return {
    schema: row.schema,
    columns: new Map((row.columns ?? []).map(([n, type, notNull]) => [n, { type, notNull }])),
    indexes: (row.indexes ?? []).map(([unique, columns]) => ({ unique, columns: columns ?? [] })),
  }
}
