/**
 * Node http adapter: the manager already speaks `IncomingMessage`/`ServerResponse`
 * (`manager.loadAndSave`); this module gives it the same shape as the other adapters
 * and re-exports what a plain-http app needs.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { ConfigError, SessionManager } from '../lib/index.js'

export { SessionManager, type SessionManagerOptions, type ErrorHandler, type RequestInfo } from '../lib/index.js'
export { holdResponse, type Hold, type HoldHooks } from '../lib/node/hold.js'
export { applyHeaders, endOnClose, requestInfo } from '../lib/node/serve.js'

/** An `errorHandler` typed for Node's request and response (any `ErrorHandler` fits the option). */
export type NodeErrorHandler = (err: unknown, req: IncomingMessage, res: ServerResponse) => unknown

/** A Node http request handler that may be async. */
export type SessionHandler = (req: IncomingMessage, res: ServerResponse) => unknown

/**
 * Wrap a Node http handler with sessions: the session is loaded before `handler`
 * runs and committed when the handler starts its response (`writeHead`, `write`,
 * `end`, `pipe`), before any byte leaves, so Set-Cookie is on that response. The same
 * as `manager.loadAndSave(handler)`.
 *
 * - Store failure on load or commit: the manager's `errorHandler` answers (default:
 *   logged, a bare 500).
 * - A handler that throws or rejects before responding: its session is not committed,
 *   and the error handler answers.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { SessionManager, sessionHandler } from 'session-manager/node'
 *
 * const manager = new SessionManager({ lifetime: '24h' })
 * createServer(sessionHandler(manager, (req, res) => {
 *   const visits = manager.getNumber(req, 'visits') + 1
 *   manager.put(req, 'visits', visits)
 *   res.end(`visit ${visits}`)
 * })).listen(3000)
 * ```
 */
export function sessionHandler(manager: SessionManager, handler: SessionHandler): RequestListener {
  if (!(manager instanceof SessionManager)) {
    throw new ConfigError(`sessionHandler(manager, handler): expected a SessionManager, got ${typeof manager}`)
  }
  if (typeof handler !== 'function') {
    throw new ConfigError(`sessionHandler(manager, handler): expected a handler function, got ${typeof handler}`)
  }
  return manager.loadAndSave(handler)
}
