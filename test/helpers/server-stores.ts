/**
 * The networked stores the distributed tests run on, as `createStore` URLs, with a
 * reachability check (a failure in CI, a skip elsewhere) and the clean-up of the
 * Postgres table each run creates for itself.
 */
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { createStore } from '../../stores/url.js'
import { mysqlUrl } from './mariadb.js'
import { postgresUrl } from './postgres.js'
import { reachable } from './service.js'

/** Store URL by name: Redis, etcd, MySQL/MariaDB and Postgres (a table of this run's own). */
export function serverStores(): Record<string, string> {
  return {
    redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    etcd: `etcd://${(process.env.ETCD_URL ?? 'http://127.0.0.1:23790').replace(/^https?:\/\//, '')}`,
    mysql: mysqlUrl,
    postgres: `${postgresUrl}?table=sessions_dist_${randomBytes(4).toString('hex')}`,
  }
}

/** True when the store at `storeUrl` answers (see `reachable`). */
export function storeReachable(t: Test, name: string, storeUrl: string): Promise<boolean> {
  return reachable(t, `${name} (${storeUrl})`, async () => {
    const handle = await createStore(storeUrl)
    try {
      await handle.store.find('probe')
    } finally {
      await handle.close()
    }
  })
}

/** Drop the table a Postgres store URL names (nothing for other stores). */
export async function dropStoreTable(storeUrl: string): Promise<void> {
  if (!storeUrl.startsWith('postgres')) return
  const { default: pg } = await import('pg')
  const table = new URL(storeUrl).searchParams.get('table')
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 1 })
  await pool.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => {})
  await pool.end()
}
