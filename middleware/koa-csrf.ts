/**
 * The Koa CSRF guard: unsafe requests must carry the session's CSRF token.
 */
import type { Context, Middleware, Next } from 'koa'
import { CsrfError, isUnsafeMethod, offeredCsrf, type SessionManager } from '../lib/index.js'

/** Options of {@link csrfGuard}. */
export interface CsrfGuardOptions {
  /** Request header carrying the token. Default `'x-csrf-token'`. */
  header?: string
  /** Body field (`ctx.request.body`, from your body parser). Default `'_csrf'`. */
  field?: string
}

/**
 * Koa middleware refusing unsafe requests whose CSRF token (header `x-csrf-token` or
 * body field `_csrf`) is not the session's: throws a `CsrfError` (status 403).
 *
 * @example
 * ```ts
 * app.use(sessionMiddleware(manager))
 * app.use(csrfGuard(manager))
 * ```
 */
export function csrfGuard(manager: SessionManager, options: CsrfGuardOptions = {}): Middleware {
  const header = (options.header ?? 'x-csrf-token').toLowerCase()
  const field = options.field ?? '_csrf'
  return async function csrf(ctx: Context, next: Next): Promise<void> {
    if (isUnsafeMethod(ctx.method)) {
      const body = (ctx.request as { body?: unknown }).body
      if (!manager.verifyCsrf(ctx, offeredCsrf(ctx.get(header) || undefined, body, field))) throw new CsrfError()
    }
    await next()
  }
}
