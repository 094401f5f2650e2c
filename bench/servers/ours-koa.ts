/** Contender: this library's Koa middleware (`sessionMiddleware`), on `BENCH_STORE`. */
import Koa from 'koa'
import { announce, BODY_OK, concurrencyKey, countKeys, heap, HOT_KEY, pathOf, port } from './common.js'
import { distModule } from './ours-dist.js'
import { ourManager } from './ours-store.js'

const { sessionMiddleware } = await distModule<typeof import('../../middleware/koa.js')>('middleware/koa.js')

const { manager, stats } = await ourManager()
const app = new Koa()
const session = sessionMiddleware(manager)

app.use(async (ctx, next) => {
  // Measurement endpoints stay outside the session middleware.
  if (ctx.path === '/__heap') ctx.body = heap()
  else if (ctx.path === '/__stats') ctx.body = stats()
  else await session(ctx, next)
})
app.use((ctx) => {
  switch (pathOf(ctx.url)) {
    case '/s1':
      ctx.body = BODY_OK
      return
    case '/s2':
      ctx.body = String(manager.getNumber(ctx, 'n'))
      return
    case '/s3': {
      const n = manager.getNumber(ctx, 'n') + 1
      manager.put(ctx, 'n', n)
      ctx.body = String(n)
      return
    }
    case '/s4':
      manager.put(ctx, 'n', 1)
      ctx.body = BODY_OK
      return
    case '/c/put': {
      const key = concurrencyKey(ctx.url)
      if (key !== undefined) manager.put(ctx, key, 1)
      ctx.body = BODY_OK
      return
    }
    case '/c/count':
      ctx.body = String(countKeys(manager.keys(ctx)))
      return
    case '/c/inc':
      ctx.body = String(manager.increment(ctx, HOT_KEY))
      return
    case '/c/hot':
      ctx.body = String(manager.getNumber(ctx, HOT_KEY))
      return
    default:
      ctx.status = 404
  }
})

const server = app.listen(port(), '127.0.0.1', () => announce(server))
