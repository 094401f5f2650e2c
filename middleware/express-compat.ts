/**
 * The Express side of `sessionMiddleware(manager, { compat: true })`: `req.session`
 * (express-session's API, see lib/compat.ts) and `req.sessionID`.
 */
import type { Request } from 'express'
import { CompatSession, type SessionManager } from '../lib/index.js'

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
