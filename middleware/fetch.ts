/**
 * Fetch adapter: `(request: Request) => Response` handlers — Bun.serve, Deno.serve,
 * Next.js route handlers, Cloudflare-style workers. Runtime-neutral: built on
 * lib/transport.ts and `manager.attach`/`manager.end` only, no `node:http`.
 */
import { ConfigError, mergeSessionHeaders, type RequestInfo, type SessionHeaders, SessionManager } from '../lib/index.js'

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

/** RequestInfo of a Fetch `Request`: TLS is read from the URL's scheme. */
export function fetchRequestInfo(request: Request): RequestInfo {
  const h = request.headers
  let encrypted = false
  try {
    encrypted = new URL(request.url).protocol === 'https:'
  } catch {
    // A relative or odd URL: not known to be TLS.
  }
  return {
    cookie: h.get('cookie') ?? undefined,
    authorization: h.get('authorization') ?? undefined,
    forwardedProto: h.get('x-forwarded-proto') ?? undefined,
    encrypted,
  }
}

/**
 * Merge a request end's headers into a Fetch response. A response whose headers are
 * immutable (`Response.redirect`, a `fetch()` response) is replaced by a new one with
 * the same status and the same body stream, untouched.
 */
export function withSessionHeaders(response: Response, headers: SessionHeaders): Response {
  if (headers.length === 0) return response
  const target = (h: Headers) => ({
    get: (name: string) => h.get(name) ?? undefined,
    set: (name: string, value: string) => h.set(name, value),
    append: (name: string, value: string) => h.append(name, value),
  })
  try {
    // An immutable Headers throws on its first write, before anything changed.
    mergeSessionHeaders(target(response.headers), headers)
    return response
  } catch (err) {
    if (!(err instanceof TypeError)) throw err
  }
  const copy = new Headers(response.headers)
  mergeSessionHeaders(target(copy), headers)
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: copy })
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
      // A client that hung up (the request's signal aborts): the request ends as failed,
      // releasing what it held even if the handler never answers. End is idempotent.
      if (attached instanceof Promise && !request.signal.aborted) {
        const loaded = session
        request.signal.addEventListener('abort', () => void Promise.resolve(manager.end(loaded, true)).catch(() => {}), { once: true })
      }
    } catch (err) {
      return fail(err, request)
    }
    let response: Response
    try {
      response = await handler(request)
      if (!(response instanceof Response)) throw new TypeError(`fetchHandler: the handler returned ${typeof response}, not a Response`)
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
    return withSessionHeaders(response, headers)
  }
}
