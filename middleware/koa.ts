/**
 * Koa adapter: load the session before `await next()`, commit it after — Koa's own
 * pre-send point (STYLE.md rule 8): Koa writes the response only once every
 * middleware has returned.
 */
import type { Context, Middleware, Next } from 'koa'
import { ConfigError, mergeSessionHeaders, type SessionHeaders, SessionManager } from '../lib/index.js'
import { endOnClose, requestInfo } from '../lib/node/serve.js'

/** Set the commit's headers through Koa (Koa 3 answers undefined for a missing header, Koa 2 ''). */
function setHeaders(ctx: Context, headers: SessionHeaders): void {
  mergeSessionHeaders(
    {
      get: (name) => ctx.response.get(name),
      set: (name, value) => ctx.set(name, value),
      append: (name, value) => ctx.append(name, value),
    },
    headers,
  )
}

/**
 * Koa middleware that gives every later middleware a session, bound to `ctx`,
 * `ctx.request` and `ctx.req` (pass any of them to the manager). Install it early.
 *
 * - Commit: after `await next()`, before Koa writes the body (string, JSON, stream),
 *   so Set-Cookie is on this response and the client's next request reads its write.
 * - Store failure on load or commit: thrown, so Koa's error handling answers (500
 *   by default) and `app.on('error')` hears it.
 * - An error thrown downstream: the session is not committed and the error goes on
 *   up unchanged, to your error middleware or Koa's.
 * - A response written around Koa (`ctx.respond = false`, `ctx.res.end()` in a
 *   downstream middleware) leaves before the commit: its session changes are still
 *   saved, but its Set-Cookie cannot be sent.
 *
 * @example
 * ```ts
 * import Koa from 'koa'
 * import { SessionManager } from 'session-manager'
 * import { sessionMiddleware } from 'session-manager/koa'
 *
 * const manager = new SessionManager({ lifetime: '24h' })
 * const app = new Koa()
 * app.use(sessionMiddleware(manager))
 * app.use((ctx) => {
 *   const visits = manager.getNumber(ctx, 'visits') + 1
 *   manager.put(ctx, 'visits', visits)
 *   ctx.body = `visit ${visits}`
 * })
 * app.listen(3000)
 * ```
 */
export function sessionMiddleware(manager: SessionManager): Middleware {
  if (!(manager instanceof SessionManager)) {
    throw new ConfigError(`sessionMiddleware(manager): expected a SessionManager, got ${typeof manager}`)
  }
  return async function session(ctx: Context, next: Next): Promise<void> {
    const attached = manager.attach([ctx, ctx.request, ctx.req], requestInfo(ctx.req))
    // Without a token the session is there at once: no await, no extra microtask.
    const loaded = attached instanceof Promise ? await attached : attached
    // A downstream that never returns (the client hung up meanwhile) ends on close.
    if (attached instanceof Promise) endOnClose(manager, ctx.res, loaded)
    try {
      await next()
    } catch (err) {
      manager.end(loaded, true)
      throw err
    }
    const out = manager.end(loaded)
    const headers = out instanceof Promise ? await out : out
    if (headers.length > 0) setHeaders(ctx, headers)
  }
}

export { csrfGuard, type CsrfGuardOptions } from './koa-csrf.js'
