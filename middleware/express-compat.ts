/**
 * The Express side of `sessionMiddleware(manager, { compat: true })`: `req.session`
 * (express-session's API, see lib/compat.ts) and `req.sessionID`.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { CompatSession, CsrfError, isUnsafeMethod, offeredCsrf, type SessionManager } from '../lib/index.js'

/** Options of the Express session middleware. */
export interface SessionMiddlewareOptions {
  /** Give `req.session` / `req.sessionID` as express-session does (passport, connect-flash). Default `false`. */
  compat?: boolean
}

/**
 * Put an express-session compatible `req.session` on `req`; returns the flush the
 * request end must run (nested in-place changes are recorded then).
 */
export function expressCompat(manager: SessionManager, req: Request): () => void {
  const holder = req as unknown as { session?: object; sessionID?: string }
  const compat = new CompatSession(manager, req, 'express', (value) => {
    holder.session = value
  })
  Object.defineProperty(req, 'sessionID', {
    configurable: true,
    enumerable: false,
    get: () => (holder.session === undefined ? undefined : (holder.session as { id: string }).id),
  })
  return () => compat.flush()
}

/** Options of {@link csrfGuard}. */
export interface CsrfGuardOptions {
  /** Request header carrying the token. Default `'x-csrf-token'`. */
  header?: string
  /** Form field carrying the token (needs a body parser before the guard). Default `'_csrf'`. */
  field?: string
}

/**
 * Express middleware refusing unsafe requests (POST, PUT, PATCH, DELETE, …) whose CSRF
 * token — header `x-csrf-token` or form field `_csrf` — is not the session's
 * (`manager.csrfToken(req)`): `next(new CsrfError())`, which Express answers with 403.
 * Install it after `sessionMiddleware` and the body parser.
 *
 * @example
 * ```ts
 * app.use(express.urlencoded({ extended: false }))
 * app.use(sessionMiddleware(manager))
 * app.use(csrfGuard(manager))
 * app.get('/form', (req, res) => res.send(`<input type="hidden" name="_csrf" value="${manager.csrfToken(req)}">`))
 * ```
 */
export function csrfGuard(manager: SessionManager, options: CsrfGuardOptions = {}): RequestHandler {
  const header = (options.header ?? 'x-csrf-token').toLowerCase()
  const field = options.field ?? '_csrf'
  return function csrf(req: Request, _res: Response, next: NextFunction): void {
    if (!isUnsafeMethod(req.method)) return next()
    const offered = offeredCsrf(req.headers[header], req.body, field)
    next(manager.verifyCsrf(req, offered) ? undefined : new CsrfError())
  }
}
