/**
 * The app the runtime tests start under Bun and Deno: fetchHandler or Hono (APP=fetch|hono)
 * on the memory, cookie or Redis store (STORE=memory|cookie|redis, REDIS_URL, PREFIX),
 * served by Bun.serve or Deno.serve on an OS-chosen port, printed as `listening <port>`.
 */
import { Hono } from 'hono'
import { SessionManager, type Store } from '../../lib/index.js'
import { fetchHandler } from '../../middleware/fetch.js'
import { sessionMiddleware } from '../../middleware/hono.js'
import { CookieStore } from '../../stores/cookie.js'
import { MemoryStore } from '../../stores/memory.js'
import { act } from '../middleware/helpers/act.js'

declare const Bun: { serve(o: { port: number; hostname: string; fetch: (r: Request) => Promise<Response> | Response }): { port: number } } | undefined
declare const Deno: {
  env: { get(name: string): string | undefined }
  serve(o: { port: number; hostname: string; onListen(a: { port: number }): void }, h: (r: Request) => Promise<Response> | Response): unknown
} | undefined

const env = (name: string) => (typeof Bun !== 'undefined' ? process.env[name] : Deno?.env.get(name))

async function store(): Promise<Store> {
  const kind = env('STORE') ?? 'memory'
  if (kind === 'cookie') return new CookieStore({ keys: [env('COOKIE_KEY') ?? ''] })
  if (kind === 'redis') {
    const { Redis } = await import('ioredis')
    const { RedisStore, redisClientOptions } = await import('../../stores/redis.js')
    return new RedisStore(new Redis(env('REDIS_URL') ?? 'redis://127.0.0.1:6379', redisClientOptions), { prefix: env('PREFIX') ?? 'rt:' })
  }
  return new MemoryStore({ sweepInterval: 0 })
}

const manager = new SessionManager({ store: await store(), logger: { warn() {}, error() {} } })

let handler: (request: Request) => Promise<Response> | Response
if ((env('APP') ?? 'fetch') === 'hono') {
  const app = new Hono()
  app.use(sessionMiddleware(manager))
  app.all('*', async (c) => {
    const body = await act(manager, c, new URL(c.req.url))
    return body === 'redirect' ? Response.redirect(new URL('/', c.req.url).href, 303) : c.text(body)
  })
  handler = app.fetch
} else {
  handler = fetchHandler(manager, async (request) => {
    const body = await act(manager, request, new URL(request.url))
    return body === 'redirect' ? Response.redirect(new URL('/', request.url).href, 303) : new Response(body)
  })
}

if (typeof Bun !== 'undefined') {
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: handler })
  console.log(`listening ${server.port}`)
} else if (typeof Deno !== 'undefined') {
  Deno.serve({ port: 0, hostname: '127.0.0.1', onListen: ({ port }) => console.log(`listening ${port}`) }, handler)
}
