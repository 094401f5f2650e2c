/**
 * The store and manager of this library's contenders, chosen by `BENCH_STORE`
 * (`memory`, `redis`, `cookie`, `postgres`). Store modules are imported on demand, so a contender
 * never loads a client it does not use. Store calls are counted for `/__stats`.
 */
import { randomBytes } from 'node:crypto'
import type { SessionManager } from '../../lib/index.js'
import type { Store } from '../../lib/store.js'
import { countCalls, ioredisOptions, prefix, redisUrl, storeKind } from './common.js'
import { distModule, lib } from './ours-dist.js'

/** Postgres queries per statement kind, for `/__queries` (Postgres contenders only). */
let pgQueries = (): string => '{}'

async function makeStore(kind: string): Promise<Store> {
  switch (kind) {
    case 'memory': {
      const { MemoryStore } = await distModule<typeof import('../../stores/memory.js')>('stores/memory.js')
      return new MemoryStore()
    }
    case 'redis': {
      const { Redis } = await import('ioredis')
      const { RedisStore } = await distModule<typeof import('../../stores/redis.js')>('stores/redis.js')
      const client = new Redis(redisUrl(), ioredisOptions)
      await client.ping()
      return new RedisStore(client, { prefix: prefix() })
    }
    case 'cookie': {
      const { CookieStore } = await distModule<typeof import('../../stores/cookie.js')>('stores/cookie.js')
      return new CookieStore({ keys: [randomBytes(32)] })
    }
    case 'postgres': {
      const { countedPool, pgTable } = await import('./pg.js')
      const { PostgresStore } = await distModule<typeof import('../../stores/postgres.js')>('stores/postgres.js')
      const { pool, queries } = countedPool()
      const store = await PostgresStore.create(pool, { table: pgTable(), createTable: true, cleanupInterval: 0 })
      await pool.query(`TRUNCATE "${pgTable()}"`)
      pgQueries = queries
      return store
    }
    default:
      throw new Error(`unknown BENCH_STORE ${kind}`)
  }
}

/** A manager as an app would configure it (24 h lifetime, defaults otherwise), and its call counts. */
export async function ourManager(): Promise<{ manager: SessionManager; stats: () => string; queries: () => string }> {
  const { store, stats } = countCalls(await makeStore(storeKind()))
  const manager = new lib.SessionManager({ store, lifetime: '24h' })
  await observe(manager, process.env.BENCH_OBSERVE)
  return { manager, stats, queries: () => pgQueries() }
}

/**
 * `BENCH_OBSERVE`: what observes the manager during the run (issue 18's "no cost when
 * nobody listens"): unset, nothing; `listener`, an `on('committed')` listener;
 * `channel`, diagnostics_channel subscribers on every event and the store tracing
 * channel; `otel`, session-manager/otel on a no-op-exporting SDK.
 */
async function observe(manager: SessionManager, how: string | undefined): Promise<void> {
  if (how === undefined || how === '') return
  let seen = 0
  if (how === 'listener') manager.on('committed', () => { seen++ })
  else if (how === 'channel') {
    const dc = await import('node:diagnostics_channel')
    for (const name of ['created', 'committed', 'renewed', 'destroyed', 'revoked', 'loggedIn', 'expired', 'conflict', 'storeError', 'corrupt']) {
      dc.subscribe(`session-manager:${name}`, () => { seen++ })
    }
    dc.tracingChannel('session-manager:store').subscribe({ start() { seen++ }, end() {}, asyncStart() {}, asyncEnd() {}, error() {} })
  } else if (how === 'otel') {
    const { BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } = await import('@opentelemetry/sdk-trace-base')
    const { MeterProvider } = await import('@opentelemetry/sdk-metrics')
    const exporter = new InMemorySpanExporter()
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    setInterval(() => exporter.reset(), 1000).unref()
    const { instrument } = await distModule<typeof import('../../otel/index.js')>('otel/index.js')
    instrument({ tracerProvider, meterProvider: new MeterProvider() })
  } else throw new Error(`BENCH_OBSERVE: unknown ${how}`)
}
