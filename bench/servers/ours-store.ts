/**
 * The store and manager of this library's contenders, chosen by `BENCH_STORE`
 * (`memory`, `redis`, `cookie`). Store modules are imported on demand, so a contender
 * never loads a client it does not use. Store calls are counted for `/__stats`.
 */
import { randomBytes } from 'node:crypto'
import type { SessionManager } from '../../lib/index.js'
import type { Store } from '../../lib/store.js'
import { countCalls, ioredisOptions, prefix, redisUrl, storeKind } from './common.js'
import { distModule, lib } from './ours-dist.js'

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
    default:
      throw new Error(`unknown BENCH_STORE ${kind}`)
  }
}

/** A manager as an app would configure it (24 h lifetime, defaults otherwise), and its call counts. */
export async function ourManager(): Promise<{ manager: SessionManager; stats: () => string }> {
  const { store, stats } = countCalls(await makeStore(storeKind()))
  return { manager: new lib.SessionManager({ store, lifetime: '24h' }), stats }
}
