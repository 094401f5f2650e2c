/** Contender: this library's Fastify plugin (`sessionPlugin`), on `BENCH_STORE`. */
import Fastify from 'fastify'
import { announce, BODY_OK, concurrencyKey, countKeys, heap, HOT_KEY, port } from './common.js'
import { distModule } from './ours-dist.js'
import { ourManager } from './ours-store.js'

const { sessionPlugin } = await distModule<typeof import('../../middleware/fastify.js')>('middleware/fastify.js')

const { manager, stats } = await ourManager()
const app = Fastify({ logger: false })
app.get('/__heap', async () => heap())
app.get('/__stats', async () => stats())
await app.register(async (scoped) => {
  await scoped.register(sessionPlugin, { manager })
  scoped.get('/s1', async () => BODY_OK)
  scoped.get('/s2', async (request) => String(manager.getNumber(request, 'n')))
  scoped.get('/s3', async (request) => {
    const n = manager.getNumber(request, 'n') + 1
    manager.put(request, 'n', n)
    return String(n)
  })
  scoped.get('/s4', async (request) => {
    manager.put(request, 'n', 1)
    return BODY_OK
  })
  scoped.get('/c/put', async (request) => {
    const key = concurrencyKey(request.url)
    if (key !== undefined) manager.put(request, key, 1)
    return BODY_OK
  })
  scoped.get('/c/count', async (request) => String(countKeys(manager.keys(request))))
  scoped.get('/c/inc', async (request) => String(manager.increment(request, HOT_KEY)))
  scoped.get('/c/hot', async (request) => String(manager.getNumber(request, HOT_KEY)))
})

await app.listen({ port: port(), host: '127.0.0.1' })
announce(app.server)
