/**
 * Hono adapter: load the session before `await next()`, commit it after — before Hono
 * hands the Response to the runtime (STYLE.md rule 8). Web standard types only: runs
 * wherever Hono does (Node via @hono/node-server, Bun, Deno).
 */
import type { Context, MiddlewareHandler, Next } from 'hono'
import { ConfigError, SessionManager } from '../lib/index.js'
import { endOnAbort, fetchRequestInfo, withSessionHeaders } from '../lib/web.js'

/**
 * Hono middleware that gives every later handler a session, bound to `c`, `c.req` and
 * `c.req.raw` (pass any of them to the manager). Install it early: `app.use(sessionMiddleware(manager))`.
 *
 * - Commit: after `await next()`, before Hono returns the Response, with Set-Cookie
 *   (or the token header), Vary and Cache-Control added — on a new Response with the
 *   same body stream when the handler's Response has immutable headers.
 * - Store failure on load or commit: thrown, so Hono's `app.onError` answers (500 by default).
 * - A handler that threw (Hono turns it into `c.error` and an error response): the
 *   session is not committed.
 * - The request's signal aborts (the client hung up): the request ends as failed.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { SessionManager } from 'session-manager'
 * import { sessionMiddleware } from 'session-manager/hono'
 *
 * const manager = new SessionManager({ lifetime: '24h' })
 * const app = new Hono()
 * app.use(sessionMiddleware(manager))
 * app.get('/', (c) => {
 *   const visits = manager.getNumber(c, 'visits') + 1
 *   manager.put(c, 'visits', visits)
 *   return c.text(`visit ${visits}`)
 * })
 * export default app
 * ```
 */
export function sessionMiddleware(manager: SessionManager): MiddlewareHandler {
  if (!(manager instanceof SessionManager)) {
    throw new ConfigError(`sessionMiddleware(manager): expected a SessionManager, got ${typeof manager}`)
  }
  return async function session(c: Context, next: Next): Promise<void> {
    const request = c.req.raw
    const attached = manager.attach([c, c.req, request], fetchRequestInfo(request))
    // Without a token the session is there at once: no await, no extra microtask.
    const loaded = attached instanceof Promise ? await attached : attached
    if (attached instanceof Promise) endOnAbort(manager, request, loaded)
    try {
      await next()
    } catch (err) {
      manager.end(loaded, true)
      throw err
    }
    // Hono catches a handler's error itself, answering through onError with c.error set.
    if (c.error !== undefined) {
      await manager.end(loaded, true)
      return
    }
    const out = manager.end(loaded)
    const headers = out instanceof Promise ? await out : out
    if (headers.length === 0) return
    const res = c.res
    const merged = withSessionHeaders(res, headers)
    if (merged !== res) {
      // Hono's setter copies the old response's headers onto a new one; clear it first
      // so the merged headers (cookies included) are taken as they are.
      c.res = undefined
      c.res = merged
    }
  }
}
