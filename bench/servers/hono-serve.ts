/**
 * How a Hono bench server runs on the runtime it was started with: Bun (`Bun.serve`,
 * when the harness runs the file with the bun binary) or Node (`@hono/node-server`).
 * Either way it listens on 127.0.0.1, any free port, and prints "ready PORT" as every
 * bench server does. `/__heap` answers the heap after a full collection on both.
 */
import { heap } from './common.js'

declare const Bun: {
  serve(o: { port: number; hostname: string; fetch: (r: Request) => Response | Promise<Response> }): { port: number }
  gc(force: boolean): void
} | undefined

const port = Number(process.env.PORT ?? 0)

/** `{ heapUsed }` after a full GC, on Node (`--expose-gc`) or Bun (`Bun.gc(true)`). */
function heapAfterGc(): string {
  if (typeof Bun === 'undefined') return heap()
  Bun.gc(true)
  return JSON.stringify({ heapUsed: process.memoryUsage().heapUsed, gc: true })
}

/** Serve `app` and announce the port; measurement endpoints answer before Hono's routing. */
export async function serveHono(app: { fetch: (request: Request) => Response | Promise<Response> }, stats: () => string = () => '{}'): Promise<void> {
  const fetch = (request: Request): Response | Promise<Response> => {
    const path = request.url.slice(request.url.indexOf('/', 8))
    if (path === '/__heap') return new Response(heapAfterGc())
    if (path === '/__stats') return new Response(stats())
    return app.fetch(request)
  }
  process.once('SIGTERM', () => process.exit(0))
  if (typeof Bun !== 'undefined') {
    const server = Bun.serve({ port, hostname: '127.0.0.1', fetch })
    process.stdout.write(`ready ${server.port}\n`)
    return
  }
  const { serve } = await import('@hono/node-server')
  serve({ fetch, port, hostname: '127.0.0.1' }, (info) => process.stdout.write(`ready ${info.port}\n`))
}
