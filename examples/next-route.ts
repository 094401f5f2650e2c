/**
 * A Next.js App Router route handler (app/api/counter/route.ts) with sessions: Next
 * calls the exported GET/POST with a web `Request` and sends the `Response` they return,
 * so each export is a `fetchHandler`. Any store works; use a shared one (Redis) in
 * production, where several Next.js instances serve the same users.
 */
import { SessionManager } from '../lib/index.js'
import { fetchHandler } from '../middleware/fetch.js'

/** One manager per process (module scope), shared by the route's methods. */
export const manager = new SessionManager({ lifetime: '24h', idleTimeout: '30m' })

/** GET /api/counter: the count so far, as JSON. */
export const GET = fetchHandler(manager, (request) => Response.json({ count: manager.getNumber(request, 'count') }))

/** POST /api/counter: add one (or `{ "reset": true }` to end the session), then redirect back. */
export const POST = fetchHandler(manager, async (request) => {
  const body = (await request.json().catch(() => ({}))) as { reset?: unknown }
  if (body.reset === true) await manager.destroy(request)
  else manager.put(request, 'count', manager.getNumber(request, 'count') + 1)
  return Response.redirect(new URL('/api/counter', request.url), 303)
})
