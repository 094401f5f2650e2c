/**
 * The Fetch glue behind the fetch and Hono adapters: a web `Request` read as the core's
 * request info, session headers merged into a web `Response`, and the request end on
 * abort. Web standard types only — no node:http, so it runs on Node, Bun and Deno alike.
 */
import type { Session } from './session.js'
import { mergeSessionHeaders, type RequestInfo, type SessionHeaders } from './transport.js'

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
 * A client that hung up (the request's signal aborts): the loaded session's request
 * ends as failed, releasing what it held even if the handler never answers. A request
 * that already ended is not touched (the end is idempotent).
 */
export function endOnAbort(host: { end(session: Session, failed?: boolean): SessionHeaders | Promise<SessionHeaders> }, request: Request, session: Session): void {
  const signal = request.signal as AbortSignal | undefined
  if (signal === undefined || signal.aborted) return
  signal.addEventListener(
    'abort',
    () => {
      const out = host.end(session, true)
      if (out instanceof Promise) out.catch(() => {})
    },
    { once: true },
  )
}
