import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { holdResponse } from './hold.js'
import { applyHeaders, type RequestInfo, requestInfo } from './http.js'
import type { SessionManager } from './manager.js'
import type { Session } from './session.js'

/** The part of the manager serving needs (independent of its data type). */
export type ServeHost = Pick<SessionManager, 'attach' | 'finish' | 'needsCommit' | 'abort' | 'config'>

/** A Node http handler, sync or async. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown

/**
 * `manager.loadAndSave(handler)`: load the session before `handler`, commit it before
 * the response's first byte (via holdResponse), and route failures to the manager's
 * error handler. A handler that throws before responding gets the error handler too,
 * and its session is not committed.
 */
export function nodeHandler(manager: ServeHost, handler: NodeHandler): RequestListener {
  return (req, res) => {
    const info = requestInfo(req)
    withSession(
      manager,
      req,
      info,
      (session) => serve(manager, req, res, handler, session, info),
      (err) => answerError(manager, err, req, res),
    )
  }
}

/**
 * For callback-style adapters: attach the request's session to `contexts`, then call
 * `go` with it — in this same tick when there is nothing to load (no token), so the
 * handler runs without a microtask in between. A load failure goes to `fail`.
 */
export function withSession(
  manager: Pick<ServeHost, 'attach'>,
  contexts: object | object[],
  info: RequestInfo,
  go: (session: Session) => void,
  fail: (err: unknown) => void,
): void {
  let attached: Session | Promise<Session>
  try {
    attached = manager.attach(contexts, info)
  } catch (err) {
    return fail(err)
  }
  if (attached instanceof Promise) attached.then(go, fail)
  else go(attached)
}

function serve(manager: ServeHost, req: IncomingMessage, res: ServerResponse, handler: NodeHandler, session: Session, info: RequestInfo): void {
  const hold = holdResponse(res, {
    needed: () => manager.needsCommit(session),
    before: async () => applyHeaders(res, await manager.finish(session, info)),
    failed: (err) => answerError(manager, err, req, res),
    passed: () => lateChange(manager, session),
  })
  const fail = (err: unknown) => {
    if (hold.started) {
      manager.config.logger.error('session-manager: handler failed after responding', err)
      return
    }
    hold.cancel()
    manager.abort(session)
    answerError(manager, err, req, res)
  }
  let out: unknown
  try {
    out = handler(req, res)
  } catch (err) {
    return fail(err)
  }
  if (isThenable(out)) out.then(undefined, fail)
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'

/**
 * The response started with nothing to commit: should `session` change after all, say
 * that the change cannot be saved (it used to vanish without a word).
 */
export function lateChange(manager: ServeHost, session: Session): void {
  session.onModified = () =>
    manager.config.logger.warn(
      'session-manager: the session changed after the response started; the change is not saved (change it before writing the response)',
    )
}

/**
 * Answer a failed request: the configured `errorHandler`, else log and a bare 500 —
 * never a stack trace, never a crash.
 */
export function answerError(manager: ServeHost, err: unknown, req: IncomingMessage, res: ServerResponse): void {
  const { errorHandler, logger } = manager.config
  try {
    if (errorHandler !== undefined) return errorHandler(err, req, res)
  } catch (handlerErr) {
    err = handlerErr
  }
  logger.error('session-manager: request failed', err)
  if (res.headersSent) {
    res.destroy()
    return
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  res.statusCode = 500
  res.setHeader('content-type', 'text/plain; charset=utf-8')
  res.end('Internal Server Error')
}
