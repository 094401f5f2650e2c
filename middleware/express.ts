/**
 * Express adapter: load the session before the routes, commit it before the first
 * byte of the response leaves. Express has no pre-send hook, so this uses the one
 * shared wrapper of Node http and Express, `holdResponse` (STYLE.md rule 8).
 */
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express'
import { ConfigError, type Session, SessionManager } from '../lib/index.js'
import { type Hold, holdResponse } from '../lib/node/hold.js'
import { applyHeaders, brokenResponse, endOnClose, requestInfo, withSession } from '../lib/node/serve.js'
import { expressCompat, type SessionMiddlewareOptions } from './express-compat.js'

export { csrfGuard, type CsrfGuardOptions, type SessionMiddlewareOptions } from './express-compat.js'

/** Where a request keeps its response hold, for {@link sessionErrors}. */
const HOLD = Symbol('session-manager express hold')
type Held = Request & { [HOLD]?: Hold }

function check(manager: unknown, factory: string): asserts manager is SessionManager {
  if (!(manager instanceof SessionManager)) {
    throw new ConfigError(`${factory}(manager): expected a SessionManager, got ${typeof manager}`)
  }
}

/**
 * Express middleware that gives every later route a session: load it before `next()`,
 * commit it (and set its cookie) when the route starts its response — `res.send`,
 * `res.json`, `res.redirect`, `res.sendFile`, `res.write`/`pipe` — and before any
 * byte reaches the client, so the client's next request reads its own write.
 *
 * - Load failure (store down): `next(err)` — Express's error handlers answer.
 * - Commit failure: the held response is dropped, headers the route set are removed,
 *   and `next(err)` runs Express's error handlers, which answer instead.
 * - A route that fails (`next(err)`, a thrown or rejected async handler) still gets its
 *   session committed when the error handler responds, unless {@link sessionErrors}
 *   is installed after the routes: Express gives a middleware no way to see errors
 *   passed on by the routes after it.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { SessionManager } from 'session-manager'
 * import { sessionErrors, sessionMiddleware } from 'session-manager/express'
 *
 * const manager = new SessionManager({ lifetime: '24h' })
 * const app = express()
 * app.use(sessionMiddleware(manager))
 * app.get('/', (req, res) => {
 *   const visits = manager.getNumber(req, 'visits') + 1
 *   manager.put(req, 'visits', visits)
 *   res.send(`visit ${visits}`)
 * })
 * app.use(sessionErrors(manager))
 * app.listen(3000)
 * ```
 */
export function sessionMiddleware(manager: SessionManager, options: SessionMiddlewareOptions = {}): RequestHandler {
  check(manager, 'sessionMiddleware')
  return function session(req: Request, res: Response, next: NextFunction): void {
    const start = (session: Session, loaded: boolean) => {
      const compat = expressCompat(manager, req, res, options)
      ;(req as Held)[HOLD] = holdResponse(res, {
        end: () => (compat.flush?.(), manager.end(session)),
        apply: (headers) => applyHeaders(res, headers),
        failed: (err) => {
          // The held body is gone; what the route set for it must not reach the
          // error response (a stale Content-Length would corrupt it).
          for (const name of res.getHeaderNames()) res.removeHeader(name)
          next(err)
        },
        broken: (err) => brokenResponse(manager, err, res),
      })
      if (loaded) endOnClose(manager, res, session)
      if (compat.ready === undefined) next()
      else compat.ready.then(() => next(), next)
    }
    withSession(manager, req, requestInfo(req), start, (err) => next(err))
  }
}

/**
 * Express error middleware that marks the request's session as failed, so it is never
 * committed, then passes the error on unchanged. Install it after the routes and
 * before your own error handlers. Errors without a loaded session (the load itself
 * failed), or arriving after the response started (its commit is under way), pass
 * straight through.
 *
 * @example
 * ```ts
 * app.use(sessionMiddleware(manager))
 * app.use('/api', api)
 * app.use(sessionErrors(manager))
 * app.use((err, req, res, next) => res.status(500).send('sorry'))
 * ```
 */
export function sessionErrors(manager: SessionManager): ErrorRequestHandler {
  check(manager, 'sessionErrors')
  return function sessionAbort(err: unknown, req: Request, _res: Response, next: NextFunction): void {
    const session = manager.peek(req)
    // Once the response started, its request end is under way or done: leave it be.
    if (session !== undefined && (req as Held)[HOLD]?.started !== true) manager.end(session, true)
    next(err)
  }
}
