/**
 * The Node glue behind `manager.loadAndSave` and the node and Express adapters (and the
 * close-time request end Fastify and Koa use): `IncomingMessage`/`ServerResponse`
 * translated to the core's request info and header strings. The only place in lib/
 * that names Node's http types; it reaches the manager through {@link ServeHost} alone.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ResolvedConfig } from '../config.js'
import type { Session } from '../session.js'
import { type HeaderTarget, mergeSessionHeaders, type RequestInfo, type SessionHeaders } from '../transport.js'
import { type Hold, type HoldHooks, holdResponse } from './hold.js'

/** What the Node glue needs of a manager: the request start and end, and two options. */
export interface ServeHost {
  attach(contexts: object | object[], req: RequestInfo): Session | Promise<Session>
  end(session: Session, failed?: boolean): SessionHeaders | Promise<SessionHeaders>
  readonly config: Readonly<Pick<ResolvedConfig, 'errorHandler' | 'logger'>>
}

/** A Node http handler, sync or async. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown

/** A Node http request listener. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void

/** RequestInfo of a Node request (also what Express, Fastify's `raw` and Koa's `req` are). */
export function requestInfo(req: IncomingMessage): RequestInfo {
  const h = req.headers
  const proto = h['x-forwarded-proto']
  return {
    cookie: h.cookie,
    authorization: h.authorization,
    forwardedProto: typeof proto === 'string' ? proto : undefined,
    encrypted: (req.socket as { encrypted?: boolean } | null)?.encrypted === true,
  }
}

/** Merge a request end's headers into a Node response. */
export function applyHeaders(res: ServerResponse, headers: SessionHeaders): void {
  mergeSessionHeaders(new ResponseHeaders(res), headers)
}

/** A Node response as a {@link HeaderTarget}: one object, where three closures were. */
class ResponseHeaders implements HeaderTarget {
  constructor(readonly res: ServerResponse) {}
  get(name: string): unknown {
    return this.res.getHeader(name)
  }
  set(name: string, value: string): void {
    this.res.setHeader(name, value)
  }
  append(name: string, value: string): void {
    this.res.appendHeader(name, value)
  }
}

/**
 * Make sure a loaded session's request ends even if the response never does (the
 * client hung up, a handler that never answers, a hijacked socket): on close it ends
 * as failed. A request that already ended is not touched (the end is idempotent).
 */
export function endOnClose(host: Pick<ServeHost, 'end'>, res: ServerResponse, session: Session): void {
  // `on`, not `once`: a response closes once, and once's wrapper and its state were two more objects per request.
  res.on('close', () => {
    const out = host.end(session, true)
    if (out instanceof Promise) out.catch(() => {})
  })
}

/**
 * For callback-style adapters: attach the request's session to `contexts`, then call
 * `go` with it — in this same tick when there is nothing to load (no token), so the
 * handler runs without a microtask in between; `loaded` says whether a stored session
 * was looked up. A load failure goes to `fail`.
 */
export function withSession(
  host: Pick<ServeHost, 'attach'>,
  contexts: object | object[],
  info: RequestInfo,
  go: (session: Session, loaded: boolean) => void,
  fail: (err: unknown) => void,
): void {
  let attached: Session | Promise<Session>
  try {
    attached = host.attach(contexts, info)
  } catch (err) {
    return fail(err)
  }
  if (attached instanceof Promise) attached.then((session) => go(session, true), fail)
  else go(attached, false)
}

/**
 * `manager.loadAndSave(handler)`: load the session before `handler`, end the request at
 * the response's first write (holding it for the commit), and route failures to the
 * manager's error handler. A handler that throws before responding gets the error
 * handler too, and its session is not committed.
 */
export function nodeHandler(host: ServeHost, handler: NodeHandler): NodeListener {
  return (req, res) => {
    // withSession inlined: its two callbacks would be two closures per request.
    let attached: Session | Promise<Session>
    try {
      attached = host.attach(req, requestInfo(req))
    } catch (err) {
      return answerError(host, err, req, res)
    }
    if (attached instanceof Promise) {
      attached.then((session) => serve(host, req, res, handler, session, true), (err: unknown) => answerError(host, err, req, res))
    } else serve(host, req, res, handler, attached, false)
  }
}

function serve(host: ServeHost, req: IncomingMessage, res: ServerResponse, handler: NodeHandler, session: Session, loaded: boolean): void {
  const exchange = new Exchange(host, req, res, session)
  exchange.hold = holdResponse(res, exchange)
  if (loaded) endOnClose(host, res, session)
  let out: unknown
  try {
    out = handler(req, res)
  } catch (err) {
    return exchange.handlerFailed(err)
  }
  if (isThenable(out)) out.then(undefined, (err: unknown) => exchange.handlerFailed(err))
}

/** One request through `loadAndSave`, and the hooks of its response's hold: one object per request, where five closures were. */
class Exchange implements HoldHooks {
  hold: Hold | undefined
  constructor(
    readonly host: ServeHost,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly session: Session,
  ) {}

  end(): SessionHeaders | Promise<SessionHeaders> {
    return this.host.end(this.session)
  }
  apply(headers: SessionHeaders): void {
    applyHeaders(this.res, headers)
  }
  failed(err: unknown): void {
    answerError(this.host, err, this.req, this.res)
  }
  broken(err: unknown): void {
    brokenResponse(this.host, err, this.res)
  }

  /** The handler threw or rejected: the error handler, unless the response already started. */
  handlerFailed(err: unknown): void {
    if (this.hold?.started === true) {
      this.host.config.logger.error('session-manager: handler failed after responding', err)
      return
    }
    this.host.end(this.session, true)
    answerError(this.host, err, this.req, this.res)
  }
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'

/** A response that failed after bytes were sent cannot be answered: log, close. */
export function brokenResponse(host: Pick<ServeHost, 'config'>, err: unknown, res: ServerResponse): void {
  host.config.logger.error('session-manager: response failed after it started', err)
  res.destroy()
}

/**
 * Answer a failed request: the configured `errorHandler` (which may be async), else —
 * or when it throws or rejects — log and a bare 500. Never a stack trace, never a crash.
 */
export function answerError(host: Pick<ServeHost, 'config'>, err: unknown, req: IncomingMessage, res: ServerResponse): void {
  const { errorHandler } = host.config
  if (errorHandler === undefined) return fallback(host, err, res)
  let out: unknown
  try {
    out = errorHandler(err, req, res)
  } catch (handlerErr) {
    return fallback(host, handlerErr, res)
  }
  if (isThenable(out)) out.then(undefined, (handlerErr: unknown) => fallback(host, handlerErr, res))
}

function fallback(host: Pick<ServeHost, 'config'>, err: unknown, res: ServerResponse): void {
  host.config.logger.error('session-manager: request failed', err)
  if (res.headersSent) {
    res.destroy()
    return
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  res.statusCode = 500
  res.setHeader('content-type', 'text/plain; charset=utf-8')
  res.end('Internal Server Error')
}
