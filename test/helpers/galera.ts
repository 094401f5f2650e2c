/**
 * The 3-node Galera cluster of scripts/up-galera.sh (127.0.0.1:3307-3309), as the
 * Galera test files use it: a pool per node, a PoolCluster over all three, a table of
 * the file's own (dropped at the end), the files that kill nodes taking turns, and the
 * cluster brought back up (a node left dead by an earlier run restarts) before the tests.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import mysql from 'mysql2/promise'
import { takeTurns } from './exclusive.js'
import { reachable } from './service.js'

const ports = [3307, 3308, 3309]

/** Pool options for the node listening on `port`. */
export const galeraNode = (port: number) =>
  ({ host: '127.0.0.1', port, user: 'root', database: 'test', connectTimeout: 2000, connectionLimit: 10 }) as const

export interface Galera {
  /** One pool per node, nodes 1-3 at index 0-2. */
  pools: mysql.Pool[]
  /** All three nodes, round robin; a refused node is skipped for 1 s. */
  cluster: mysql.PoolCluster
  /** This file's own table name. */
  table: string
  /** A `SHOW GLOBAL STATUS` value of node `i + 1`, through `pools[i]`. */
  status(i: number, name: string): Promise<string | undefined>
  /** The mariadbd PID of node `n` (1-3). */
  pidOf(n: number): number
  /** Run scripts/up-galera.sh: restart dead nodes, wait until all three are Synced. */
  up(): Promise<unknown>
}

/** The cluster for `t`'s file, or undefined when it is unreachable (failed in CI, skipped elsewhere). */
export async function galera(t: Test, tag: string): Promise<Galera | undefined> {
  const pools = ports.map((port) => mysql.createPool(galeraNode(port)))
  const cluster = mysql.createPoolCluster({ restoreNodeTimeout: 1000, removeNodeErrorCount: 1, defaultSelector: 'RR' })
  ports.forEach((port, i) => cluster.add(`galera${i + 1}`, galeraNode(port)))
  const table = `sessions_${tag}_${randomBytes(4).toString('hex')}`
  t.teardown(async () => {
    await pools[0]?.query(`DROP TABLE IF EXISTS \`${table}\``).catch(() => {})
    await Promise.all([...pools.map((p) => p.end()), cluster.end()])
  })
  const probe = () => Promise.any(pools.map((p) => p.query('SELECT 1')))
  if (!(await reachable(t, 'the Galera cluster at 127.0.0.1:3307-3309', probe))) return undefined

  // The Galera files kill nodes (and make them refuse queries): they take turns, as tap
  // runs files in parallel. A lock left by a dead process is taken over.
  await takeTurns(t, 'galera-tests')
  // A Galera node's eviction slows to ~5 s (the store's retry window) when a 200-browser
  // fault load runs beside it: one load-heavy or node-killing file at a time.
  await takeTurns(t, 'fault-load')
  const root = new URL('../..', import.meta.url).pathname
  const up = () => promisify(execFile)('bash', ['scripts/up-galera.sh'], { cwd: root })
  await up()
  return {
    pools,
    cluster,
    table,
    up,
    pidOf: (n) => Number(readFileSync(`/tmp/session-manager/galera-${n}/mysqld.pid`, 'utf8')),
    async status(i, name) {
      const [rows] = (await pools[i]!.query('SHOW GLOBAL STATUS LIKE ?', [name])) as unknown as [{ Value: string }[]]
      return rows[0]?.Value
    },
  }
}
