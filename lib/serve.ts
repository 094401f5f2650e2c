import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { holdWhenModified } from './hold.js'
import { applyHeaders, requestInfo } from './http.js'
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
    void serve(manager, req, res, handler)
  }
}

async function serve(manager: ServeHost, req: IncomingMessage, res: ServerResponse, handler: NodeHandler): Promise<void> {
  const info = requestInfo(req)
  let session: Session
  try {
    session = await manager.attach(req, info)
  } catch (err) {
    return answerError(manager, err, req, res)
  }
  const hold = holdWhenModified(session, res, {
    needed: () => manager.needsCommit(session),
    before: async () => applyHeaders(res, await manager.finish(session, info)),
    failed: (err) => answerError(manager, err, req, res),
    late: () => lateChange(manager),
  })
  try {
    await handler(req, res)
  } catch (err) {
    if (hold.started) {
      manager.config.logger.error('session-manager: handler failed after responding', err)
      return
    }
    hold.cancel()
    manager.abort(session)
    answerError(manager, err, req, res)
  }
}

/** A session changed after its response's headers left: say so, it cannot be saved. */
export function lateChange(manager: ServeHost): void {
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
