/**
 * Fetch adapter: `(request: Request) => Response` handlers — Bun.serve, Deno.serve,
 * Next.js route handlers, Cloudflare-style workers. Runtime-neutral: built on
 * lib/transport.ts and `manager.attach`/`manager.end` only, no `node:http`.
 */
import { ConfigError, SessionError, type SessionHeaders, SessionManager } from '../lib/index.js'
import { endOnAbort, fetchRequestInfo, withSessionHeaders } from '../lib/web.js'

/** A Fetch handler, sync or async. */
export type FetchHandler = (request: Request) => Response | Promise<Response>

/** Options of {@link fetchHandler}. */
export interface FetchHandlerOptions {
  /**
   * Answer a failed request (a store that is down on load or commit, a handler that
   * threw). Default: log through the manager's logger and answer a bare 500. When it
   * throws or rejects, the default answers.
   */
  onError?: (err: unknown, request: Request) => Response | Promise<Response>
}

/**
 * Wrap a Fetch handler with sessions. Request code passes the `Request` it was given
 * to the manager (`manager.get(request, 'key')`). The session is committed after the
 * handler returns and before its Response is handed back, with Set-Cookie (or the
 * token header), Vary and Cache-Control added.
 *
 * - Store failure on load: `onStoreError: 'anonymous'` gives the request a session
 *   that is never saved; otherwise `options.onError` (default a bare 500) answers.
 * - Store failure on commit, or a handler that throws: not committed; `onError` answers.
 * - The request's `signal` aborts (the client hung up): the request ends as failed.
 *
 * @example
 * ```ts
 * import { SessionManager } from 'session-manager'
 * import { fetchHandler } from 'session-manager/fetch'
 *
 * const manager = new SessionManager({ lifetime: '24h' })
 * Bun.serve({
 *   fetch: fetchHandler(manager, (request) => {
 *     const visits = manager.getNumber(request, 'visits') + 1
 *     manager.put(request, 'visits', visits)
 *     return new Response(`visit ${visits}`)
 *   }),
 * })
 * ```
 */
export function fetchHandler(manager: SessionManager, handler: FetchHandler, options: FetchHandlerOptions = {}): (request: Request) => Promise<Response> {
  if (!(manager instanceof SessionManager)) {
    throw new ConfigError(`fetchHandler(manager, handler): expected a SessionManager, got ${typeof manager}`)
  }
  if (typeof handler !== 'function') {
    throw new ConfigError(`fetchHandler(manager, handler): expected a function, got ${typeof handler}`)
  }
  const fail = async (err: unknown, request: Request): Promise<Response> => {
    if (options.onError !== undefined) {
      try {
        return await options.onError(err, request)
      } catch (handlerErr) {
        err = handlerErr
      }
    }
    manager.config.logger.error('session-manager: request failed', err)
    return new Response('Internal Server Error', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } })
  }
  return async (request) => {
    let session
    try {
      const attached = manager.attach(request, fetchRequestInfo(request))
      session = attached instanceof Promise ? await attached : attached
      if (attached instanceof Promise) endOnAbort(manager, request, session)
    } catch (err) {
      return fail(err, request)
    }
    let response: Response
    try {
      response = await handler(request)
      if (!(response instanceof Response)) throw new SessionError('ERR_RESPONSE', `fetchHandler: the handler returned ${typeof response}, not a Response`)
    } catch (err) {
      await manager.end(session, true)
      return fail(err, request)
    }
    let headers: SessionHeaders
    try {
      headers = await manager.end(session)
    } catch (err) {
      await response.body?.cancel().catch(() => {})
      return fail(err, request)
    }
    try {
      return withSessionHeaders(response, headers)
    } catch (err) {
      // An immutable response whose body was already read cannot be rebuilt.
      return fail(err, request)
    }
  }
}
