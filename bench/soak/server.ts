/**
 * The soak's app (bench/soak/run.ts starts it with --expose-gc): node:http through
 * `loadAndSave` on the memory store or Redis, with the session kinds the soak mixes —
 * `/read`, `/write`, `/login`, `/destroy` — and `/__heap`, which runs a full GC and
 * answers the heap in use and what the manager holds. Built code (dist/) only.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Store } from '../../lib/store.js'
import { distModule, lib } from '../servers/ours-dist.js'

const storeName = process.env.SOAK_STORE ?? 'memory'
const lifetime = Number(process.env.SOAK_LIFETIME_MS ?? 60_000)

async function makeStore(): Promise<Store> {
  if (storeName === 'memory') {
    const { MemoryStore } = await distModule<typeof import('../../stores/memory.js')>('stores/memory.js')
    return new MemoryStore({ maxEntries: 200_000, sweepInterval: 1000 })
  }
  const { Redis } = await import('ioredis')
  const { RedisStore } = await distModule<typeof import('../../stores/redis.js')>('stores/redis.js')
  const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  return new RedisStore(client, {})
}

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')
const manager = new lib.SessionManager({
  store: await makeStore(),
  lifetime,
  prefix: `soak:${process.pid}:`,
  logger: { warn() {}, error: (m: string, e?: unknown) => console.error(m, e) },
})

let user = 0
const server = createServer(
  manager.loadAndSave(async (req, res) => {
    switch (req.url) {
      case '/__heap': {
        for (let i = 0; i < 4; i++) gc()
        const m = process.memoryUsage()
        res.end(JSON.stringify({ heapUsed: m.heapUsed, rss: m.rss, inFlight: manager.inFlight }))
        return
      }
      case '/write':
        manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
        manager.put(req, 'blob', 'x'.repeat(200))
        break
      case '/login':
        await manager.login(req, `u${user++ % 5000}`)
        break
      case '/destroy':
        await manager.destroy(req)
        break
    }
    res.end(String(manager.getNumber(req, 'n')))
  }),
)
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  console.log(`ready http://127.0.0.1:${(server.address() as AddressInfo).port}`)
})
