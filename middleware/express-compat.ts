/**
 * The Express side of `sessionMiddleware(manager, { compat: true })`: `req.session`
 * (express-session's API, see lib/compat.ts) and `req.sessionID`.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { type CarryOver, CompatSession, CsrfError, isUnsafeMethod, offeredCsrf, type SessionManager } from '../lib/index.js'

/** Options of the Express session middleware. */
export interface SessionMiddlewareOptions {
  /** Give `req.session` / `req.sessionID` as express-session does (passport, connect-flash). Default `false`. */
  compat?: boolean
  /** Carry express-session sessions over (see `carryOver` in the core). */
  carryOver?: CarryOver | undefined
}

/** What the middleware does with a request of compat / carry-over. */
export interface ExpressCompat {
  /** Run before the request ends (records nested in-place changes). */
  flush: (() => void) | undefined
  /** Wait for it before `next()` (the old session being carried over). */
  ready: Promise<void> | undefined
}

/**
 * Put an express-session compatible `req.session` on `req`; returns the flush the
 * request end must run (nested in-place changes are recorded then).
 */
export function expressCompat(manager: SessionManager, req: Request, res: Response, options: SessionMiddlewareOptions): ExpressCompat {
  const carry = options.carryOver
  // The common case costs no allocation per request.
  if (carry === undefined && options.compat !== true) return NONE
  const ready = carry === undefined ? undefined : carry.run(manager, req, req.headers.cookie).then((line) => {
    if (line !== undefined) res.append('set-cookie', line)
  })
  return { flush: options.compat === true ? install(manager, req) : undefined, ready }
}

const NONE: ExpressCompat = Object.freeze({ flush: undefined, ready: undefined })

function install(manager: SessionManager, req: Request): () => void {
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
