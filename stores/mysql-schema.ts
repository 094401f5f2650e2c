/**
 * The sessions table of `MySQLStore`: its name rule, its DDL, and the startup check
 * that the table has every column the store needs.
 */
import { ConfigError } from '../lib/errors.js'
import type { MySQLClient } from './mysql-client.js'

/** Table names the store accepts: a plain identifier, 1-64 characters. */
export const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/**
 * `name` quoted for SQL, after checking it against {@link TABLE_NAME}.
 *
 * @throws ConfigError when the name is anything but a plain identifier.
 */
export function quoteTable(name: unknown): string {
  if (typeof name !== 'string' || !TABLE_NAME.test(name)) {
    throw new ConfigError(
      `MySQLStore option "table" must match ${TABLE_NAME} (letters, digits, _), got ${JSON.stringify(name)}`,
    )
  }
  return `\`${name}\``
}

/**
 * The DDL of the sessions table. Keys and users compare byte for byte (`utf8mb4_bin`);
 * `expiry` is milliseconds since the epoch; `version` changes on every commit.
 *
 * @example
 * ```ts
 * console.log(createTableSql('sessions')) // paste into your migration
 * ```
 */
export function createTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (
  id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  data LONGBLOB NOT NULL,
  expiry BIGINT NOT NULL,
  version BIGINT UNSIGNED NOT NULL,
  user_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  PRIMARY KEY (id),
  KEY expiry_idx (expiry),
  KEY user_idx (user_id, expiry)
) ENGINE=InnoDB`
}

// Every column the store reads or writes, with the types that work for it.
const COLUMNS: Record<string, readonly string[]> = {
  id: ['varchar', 'varbinary', 'char', 'binary'],
  data: ['blob', 'mediumblob', 'longblob'],
  expiry: ['bigint'],
  version: ['bigint'],
  user_id: ['varchar', 'varbinary', 'char', 'binary'],
}

/** What the startup probe learnt about the server. */
export interface ServerInfo {
  /** The connection's current database. */
  database: string
  /** True when the server is a Galera node (`wsrep_on=ON`). */
  galera: boolean
  /** True for MariaDB (which has `SET STATEMENT … FOR`). */
  mariadb: boolean
}

/**
 * Check (or, with `create`, create) the table, and probe the server.
 *
 * @throws ConfigError naming the table and what is missing or mistyped.
 */
export async function prepareTable(
  client: MySQLClient,
  table: string,
  create: boolean,
): Promise<ServerInfo> {
  const [info] = (await client.run(
    "SELECT DATABASE() AS db, VERSION() AS version, @@version_comment AS comment",
  )) as { db: string | null; version: string; comment: string }[]
  if (info?.db == null) {
    throw new ConfigError('MySQLStore: the pool has no default database (set `database` in its options)')
  }
  const wsrep = (await client.run("SHOW VARIABLES LIKE 'wsrep\\_on'")) as { Value?: string }[]
  const server: ServerInfo = {
    database: info.db,
    galera: wsrep[0]?.Value === 'ON',
    mariadb: /mariadb/i.test(`${info.version} ${info.comment}`),
  }
  let columns = await readColumns(client, table)
  if (columns.size === 0 && create) {
    await client.run(createTableSql(table))
    columns = await readColumns(client, table)
  }
  if (columns.size === 0) {
    throw new ConfigError(
      `MySQLStore: table \`${table}\` does not exist in database \`${server.database}\`; ` +
        'create it (DDL in docs/stores/mysql.md) or pass createTable: true',
    )
  }
  const problems: string[] = []
  for (const [name, types] of Object.entries(COLUMNS)) {
    const type = columns.get(name)
    if (type === undefined) problems.push(`column \`${name}\` is missing`)
    else if (!types.includes(type)) problems.push(`column \`${name}\` is ${type}, expected ${types.join(' or ')}`)
  }
  if (problems.length > 0) {
    throw new ConfigError(
      `MySQLStore: table \`${server.database}\`.\`${table}\` does not fit: ${problems.join('; ')} ` +
        '(DDL in docs/stores/mysql.md)',
    )
  }
  return server
}

async function readColumns(client: MySQLClient, table: string): Promise<Map<string, string>> {
  const rows = (await client.run(
    'SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS ' +
      'WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
    [table],
  )) as { name: string; type: string }[]
  return new Map(rows.map((r) => [String(r.name).toLowerCase(), String(r.type).toLowerCase()]))
}
