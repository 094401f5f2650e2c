/**
 * Users at scale: how long `sessionsOf` (list) and `revokeUser` (revoke) take for ONE
 * user with 100 / 1,000 / 10,000 sessions, on every store, with the stores' batches
 * (`findMany`/`deleteMany`) and without them (the manager's find/delete-per-key
 * fallback, which is what every store did before). Standalone, never part of `npm test`:
 *
 *   node --import tsx bench/users.ts [--sizes 100,1000,10000] [--stores memory,redis,cluster,etcd,mysql]
 *
 * Needs the services scripts/ starts (REDIS_URL, REDIS_CLUSTER_NODES, ETCD_URL,
 * MYSQL_URL as in test/); an unreachable one is skipped with a note. Every run uses a
 * random prefix (and its own MySQL table, dropped at the end). Store calls are counted
 * by a wrapper; the network round trips they cost are in the table's notes. Times are
 * the median of 3 lists, and one revoke; on a shared machine they are indicative only.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { SessionManager } from '../lib/index.js'
import type { Store } from '../lib/store.js'

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '100,1000,10000' }, stores: { type: 'string', default: 'memory,redis,cluster,etcd,mysql' } },
})
const sizes = values.sizes.split(',').map(Number)
const tag = randomBytes(4).toString('hex')

interface Backend {
  store: Store
  close(): Promise<void>
}

async function backend(kind: string): Promise<Backend> {
  switch (kind) {
    case 'memory': {
      const { MemoryStore } = await import('../stores/memory.js')
      const store = new MemoryStore({ maxEntries: 1_000_000 })
      return { store, close: () => store.close() }
    }
    case 'redis': {
      const { Redis } = await import('ioredis')
      const { RedisStore } = await import('../stores/redis.js')
      const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
      await client.ping()
      return { store: new RedisStore(client, { prefix: `bench-users-${tag}:` }), close: async () => void client.disconnect() }
    }
    case 'cluster': {
      const { Cluster } = await import('ioredis')
      const { RedisStore } = await import('../stores/redis.js')
      const [host, port] = ((process.env.REDIS_CLUSTER_NODES ?? '127.0.0.1:7000').split(',')[0] ?? '').split(':')
      const client = new Cluster([{ host: host ?? '127.0.0.1', port: Number(port ?? 7000) }])
      await client.ping()
      return { store: new RedisStore(client, { prefix: `bench-users-${tag}:` }), close: async () => void client.disconnect() }
    }
    case 'etcd': {
      const { Etcd3 } = await import('etcd3')
      const { EtcdStore } = await import('../stores/etcd.js')
      const client = new Etcd3({ hosts: process.env.ETCD_URL ?? 'http://127.0.0.1:23790' })
      await client.get('probe').string()
      const ns = client.namespace(`bench-users-${tag}/`)
      return {
        store: new EtcdStore(ns),
        close: async () => {
          await ns.delete().all()
          client.close()
        },
      }
    }
    case 'mysql': {
      const mysql = await import('mysql2/promise')
      const { MySQLStore } = await import('../stores/mysql.js')
      const pool = mysql.createPool({ uri: process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 10 })
      const table = `bench_users_${tag}`
      const store = await MySQLStore.create(pool, { table, createTable: true, cleanupInterval: 0 })
      return {
        store,
        close: async () => {
          await store.close()
          await pool.query(`DROP TABLE IF EXISTS \`${table}\``)
          await pool.end()
        },
      }
    }
    default:
      throw new Error(`unknown store ${kind}`)
  }
}

/** `store` with its calls counted; `batches: false` hides findMany/deleteMany (the fallback). */
function counted(store: Store, batches: boolean): { store: Store; calls: Map<string, number> } {
  const calls = new Map<string, number>()
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      if (!batches && (name === 'findMany' || name === 'deleteMany')) return undefined
      const value = Reflect.get(target, name, receiver) as unknown
      if (typeof value !== 'function' || typeof name !== 'string') return value
      return (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1)
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return { store: proxy, calls }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6
const fmt = (calls: Map<string, number>) => [...calls].map(([k, v]) => `${k} ${v}`).join(', ')

async function measure(kind: string, base: Store, n: number, batches: boolean) {
  const { store, calls } = counted(base, batches)
  const manager = new SessionManager({ store, prefix: `u${n}${batches ? 'b' : 'f'}:`, logger: { warn() {}, error() {} } })
  for (let i = 0; i < n; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, n - i) }, async () => {
        const s = await manager.load(undefined)
        await manager.login(s, 'bench')
        await manager.commit(s)
      }),
    )
  }
  const times: number[] = []
  let listCalls = ''
  for (let round = 0; round < 3; round++) {
    calls.clear()
    const start = process.hrtime.bigint()
    const listed = await manager.sessionsOf('bench')
    times.push(ms(start))
    listCalls = fmt(calls)
    if (listed.length !== n) throw new Error(`${kind}: listed ${listed.length} of ${n}`)
  }
  calls.clear()
  const start = process.hrtime.bigint()
  const revoked = await manager.revokeUser('bench')
  const revokeMs = ms(start)
  if (revoked !== n) throw new Error(`${kind}: revoked ${revoked} of ${n}`)
  return { list: median(times), listCalls, revoke: revokeMs, revokeCalls: fmt(calls) }
}

const rows: string[] = []
for (const kind of values.stores.split(',')) {
  let b: Backend
  try {
    b = await backend(kind)
  } catch (err) {
    console.error(`${kind}: not reachable, skipped (${(err as Error).message})`)
    continue
  }
  try {
    for (const n of sizes) {
      for (const batches of [true, false]) {
        if (kind === 'memory' && batches) continue // memory has no batches: the fallback is its path
        const r = await measure(kind, b.store, n, batches)
        const row = `| ${kind} | ${n.toLocaleString('en')} | ${batches ? 'batched' : 'per key'} | ${r.list.toFixed(1)} ms | ${r.listCalls} | ${r.revoke.toFixed(1)} ms | ${r.revokeCalls} |`
        console.log(row)
        rows.push(row)
      }
    }
  } finally {
    await b.close()
  }
}
console.log('\n| store | sessions | path | list | store calls (list) | revoke | store calls (revoke) |\n|---|---|---|---|---|---|---|')
console.log(rows.join('\n'))
