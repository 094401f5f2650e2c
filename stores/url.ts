/**
 * `createStore(url)`: build a store and its client from a URL, so an app (or the demo)
 * switches backends by configuration. The one module that knows every store: it loads
 * only the store and client the URL names, on demand, so a Redis user never loads
 * mysql2, pg or etcd3.
 */
import { ConfigError } from '../lib/errors.js'
import type { Store } from '../lib/store.js'

/** A store built from a URL, with the client it created. */
export interface StoreHandle {
  store: Store
  /** Close the store and the client `createStore` created. */
  close(): Promise<void>
}

const hosts = (list: string, defaultPort: number) =>
  list.split(',').map((h) => {
    const [host = '127.0.0.1', port] = h.split(':')
    return { host, port: Number(port ?? defaultPort) }
  })

/**
 * Build a store from a URL:
 *
 * | URL | store |
 * |---|---|
 * | `memory:` | `MemoryStore` |
 * | `redis://[:password@]host:port[/db]` | `RedisStore` over a standalone ioredis client |
 * | `redis+sentinel://host:port,host:port/masterName` | `RedisStore` over a Sentinel-configured client |
 * | `redis+cluster://host:port,host:port` | `RedisStore` over an ioredis `Cluster` |
 * | `etcd://host:port,host:port` | `EtcdStore` over an etcd3 client with every endpoint |
 * | `mysql://user:password@host:port/database[?table=sessions]` | `MySQLStore` over a mysql2 pool (table created if missing) |
 * | `postgres://user:password@host:port/database[?table=sessions&schema=app]` | `PostgresStore` over a pg `Pool` (table created if missing); `postgresql://` too |
 *
 * Clients get the recommended options of each store's page in docs/stores/.
 *
 * @example
 * ```ts
 * const { store, close } = await createStore(process.env.SESSION_STORE ?? 'memory:')
 * const sessions = new SessionManager({ store })
 * ```
 */
export async function createStore(url: string): Promise<StoreHandle> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (cause) {
    throw new ConfigError(`createStore: not a URL: ${JSON.stringify(url)}`, { cause })
  }
  const authority = url.replace(/^[a-z+]+:\/\//, '').replace(/\/.*$/, '').replace(/^.*@/, '')
  switch (parsed.protocol) {
    case 'memory:': {
      const { MemoryStore } = await import('./memory.js')
      const store = new MemoryStore()
      return { store, close: () => store.close() }
    }
    case 'redis:':
    case 'redis+sentinel:':
    case 'redis+cluster:': {
      const { Redis, Cluster } = await import('ioredis')
      const { RedisStore, redisClientOptions, sentinelClientOptions, clusterClientOptions } = await import('./redis.js')
      const password = parsed.password === '' ? undefined : decodeURIComponent(parsed.password)
      const client =
        parsed.protocol === 'redis+cluster:'
          ? new Cluster(hosts(authority, 6379), { ...clusterClientOptions, redisOptions: { ...clusterClientOptions.redisOptions, password } })
          : parsed.protocol === 'redis+sentinel:'
            ? new Redis({ ...sentinelClientOptions, sentinels: hosts(authority, 26379), name: parsed.pathname.slice(1) || 'mymaster', password })
            : new Redis(url, redisClientOptions)
      // The client is ours: its connection errors reach the app as failing store calls
      // (the manager logs them), so ioredis must not also print each reconnect attempt.
      client.on('error', () => {})
      const store = new RedisStore(client)
      return {
        store,
        close: async () => {
          client.disconnect()
        },
      }
    }
    case 'etcd:': {
      const { Etcd3 } = await import('etcd3')
      const { EtcdStore } = await import('./etcd.js')
      const client = new Etcd3({ hosts: hosts(authority, 2379).map((h) => `http://${h.host}:${h.port}`), dialTimeout: 1000 })
      const store = new EtcdStore(client)
      return {
        store,
        close: async () => {
          await store.close?.()
          client.close()
        },
      }
    }
    case 'mysql:': {
      const mysql = await import('mysql2/promise')
      const { MySQLStore } = await import('./mysql.js')
      const table = parsed.searchParams.get('table') ?? undefined
      parsed.search = ''
      const pool = mysql.createPool({ uri: parsed.toString(), connectTimeout: 2000, connectionLimit: 10 })
      const store = await MySQLStore.create(pool, { createTable: true, ...(table ? { table } : {}) })
      return {
        store,
        close: async () => {
          await store.close?.()
          await pool.end()
        },
      }
    }
    case 'postgres:':
    case 'postgresql:': {
      const { default: pg } = await import('pg')
      const { PostgresStore } = await import('./postgres.js')
      const table = parsed.searchParams.get('table') ?? undefined
      const schema = parsed.searchParams.get('schema') ?? undefined
      parsed.searchParams.delete('table')
      parsed.searchParams.delete('schema')
      const pool = new pg.Pool({ connectionString: parsed.toString(), connectionTimeoutMillis: 2000, max: 10 })
      try {
        const store = await PostgresStore.create(pool, { createTable: true, ...(table ? { table } : {}), ...(schema ? { schema } : {}) })
        return {
          store,
          close: async () => {
            await store.close()
            await pool.end()
          },
        }
      } catch (err) {
        await pool.end()
        throw err
      }
    }
    default:
      throw new ConfigError(
        `createStore: unknown scheme ${parsed.protocol} (memory:, redis:, redis+sentinel:, redis+cluster:, etcd:, mysql:, postgres:)`,
      )
  }
}
