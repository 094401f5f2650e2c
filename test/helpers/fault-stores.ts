/**
 * The stores the fault tests run on, each built the way its docs page recommends
 * (docs/stores/redis.md, etcd.md, mysql.md): Redis Sentinel with `sentinelClientOptions`,
 * Redis Cluster with `clusterClientOptions`, the 3-member etcd cluster with the
 * recommended etcd3 fault handling, Galera through a PoolCluster. Used by the app
 * processes of test/fixtures/fault-app.ts and by the tests' own read-back apps, so both
 * see the store exactly alike.
 */
import type { Store } from '../../lib/index.js'

/** Which service a fault app's store is on. */
export type FaultKind = 'redis-sentinel' | 'redis-cluster' | 'etcd-cluster' | 'galera'

/** How to build a fault app's store: the service, and options for the store itself. */
export interface FaultStoreConfig {
  kind: FaultKind
  /** Options passed to the store's constructor (JSON: they cross a process boundary). */
  storeOptions?: Record<string, unknown>
  /** Galera: the table (created by the test). */
  table?: string
}

/** A built store and how to release it and its client. */
export interface FaultStore {
  store: Store
  close(): Promise<void>
}

const hostPorts = (list: string, fallbackPort: number) =>
  list.split(',').map((hostPort) => {
    const [host = '127.0.0.1', port = String(fallbackPort)] = hostPort.split(':')
    return { host, port: Number(port) }
  })

/** The sentinels of scripts/up-redis-sentinel.sh (REDIS_SENTINELS) and the master name. */
export const sentinelGroup = {
  sentinels: hostPorts(process.env.REDIS_SENTINELS ?? '127.0.0.1:26380,127.0.0.1:26381,127.0.0.1:26382', 26380),
  name: process.env.REDIS_SENTINEL_NAME ?? 'sessions',
}
/** The seed nodes of scripts/up-redis-cluster.sh (REDIS_CLUSTER_NODES). */
export const clusterSeeds = hostPorts(process.env.REDIS_CLUSTER_NODES ?? '127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002', 7000)
/** The members of the etcd cluster of scripts/up-etcd.sh (ETCD_CLUSTER). */
export const etcdMembers = (process.env.ETCD_CLUSTER ?? 'http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793').split(',')
/** The Galera nodes of scripts/up-galera.sh. */
export const galeraPorts = [3307, 3308, 3309]

/** Build the store `config` names, with a client of its own. */
export async function faultStore(config: FaultStoreConfig): Promise<FaultStore> {
  const options = config.storeOptions ?? {}
  switch (config.kind) {
    case 'redis-sentinel': {
      const { Redis } = await import('ioredis')
      const { RedisStore, sentinelClientOptions } = await import('../../stores/redis.js')
      const client = new Redis({ ...sentinelGroup, ...sentinelClientOptions })
      client.on('error', () => {}) // as docs/stores/redis.md advises; failures reach the manager
      const store = new RedisStore(client, options)
      return { store, close: async () => (await store.close(), client.disconnect()) }
    }
    case 'redis-cluster': {
      const { Cluster } = await import('ioredis')
      const { RedisStore, clusterClientOptions } = await import('../../stores/redis.js')
      const client = new Cluster(clusterSeeds, clusterClientOptions)
      client.on('error', () => {})
      const store = new RedisStore(client, options)
      return { store, close: async () => (await store.close(), client.disconnect()) }
    }
    case 'etcd-cluster': {
      const { Etcd3, isRecoverableError } = await import('etcd3')
      const { ConsecutiveBreaker, circuitBreaker, handleWhen, retry } = await import('cockatiel')
      const { EtcdStore } = await import('../../stores/etcd.js')
      const recoverable = handleWhen(isRecoverableError)
      const client = new Etcd3({
        hosts: etcdMembers,
        dialTimeout: 1000,
        faultHandling: {
          host: () => circuitBreaker(recoverable, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
          global: retry(recoverable, { maxAttempts: 3 }),
        },
      })
      const store = new EtcdStore(client, options)
      return { store, close: async () => (await store.close(), client.close()) }
    }
    case 'galera': {
      const { default: mysql } = await import('mysql2/promise')
      const { MySQLStore } = await import('../../stores/mysql.js')
      const { galeraNode } = await import('./galera.js')
      const cluster = mysql.createPoolCluster({ restoreNodeTimeout: 1000, removeNodeErrorCount: 1, defaultSelector: 'RR' })
      galeraPorts.forEach((port, i) => cluster.add(`galera${i + 1}`, galeraNode(port)))
      const store = await MySQLStore.create(cluster, { table: config.table, cleanupInterval: 0, ...options })
      return { store, close: async () => (await store.close(), await cluster.end()) }
    }
  }
}
