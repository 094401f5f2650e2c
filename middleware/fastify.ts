/**
 * Fastify adapter: load the session in `onRequest`, commit it in `onSend` (Fastify's
 * own pre-send point, STYLE.md rule 8), never commit a request that failed (`onError`).
 * Needs no @fastify/cookie: the manager reads and writes the cookie header itself.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ConfigError, requestInfo, type RequestInfo, type Session, SessionManager, setSessionHeaders } from '../lib/index.js'
import { declareCompat, type FastifyCompatOptions, fastifyCompat } from './fastify-compat.js'

export { csrfHook, type CsrfHookOptions, type FastifyCompatOptions } from './fastify-compat.js'

/** Options of {@link sessionPlugin}. */
export interface SessionPluginOptions extends FastifyCompatOptions {
  /** The manager whose sessions the routes use. */
  manager: SessionManager
}

interface Loaded {
  session: Session
  info: RequestInfo
  flush: (() => void) | undefined
}

/** Set the commit's headers through Fastify (a second `set-cookie` is appended by Fastify itself). */
function setHeaders(reply: FastifyReply, headers: Array<[string, string]>): void {
  setSessionHeaders(
    {
      get: (name) => reply.getHeader(name),
      set: (name, value) => reply.header(name, value),
      append: (name, value) => reply.header(name, value),
    },
    headers,
  )
}

async function sessions(app: FastifyInstance, options: SessionPluginOptions): Promise<void> {
  const manager = options?.manager
  if (!(manager instanceof SessionManager)) {
    throw new ConfigError('sessionPlugin: option manager: expected a SessionManager')
  }
  const loaded = new WeakMap<FastifyRequest, Loaded>()
  declareCompat(app, options)
  const compat = options.compat === true || options.carryOver !== undefined

  app.addHook('onRequest', async function loadSession(request, reply) {
    const info = requestInfo(request.raw)
    // A store failure rejects here and goes to Fastify's error handler.
    const attached = manager.attach([request, request.raw], info)
    const session = attached instanceof Promise ? await attached : attached
    loaded.set(request, { session, info, flush: compat ? await fastifyCompat(manager, request, reply, options) : undefined })
  })

  app.addHook('onError', async function abortSession(request) {
    const entry = loaded.get(request)
    if (entry === undefined) return
    // onSend runs again for the error response: it must not commit this session.
    loaded.delete(request)
    manager.abort(entry.session)
  })

  app.addHook('onSend', async function commitSession(request, reply, payload) {
    const entry = loaded.get(request)
    if (entry === undefined) return payload
    // Once per request: a failing commit routes to the error handler, whose reply comes back here.
    loaded.delete(request)
    entry.flush?.()
    if (!manager.needsCommit(entry.session)) return payload
    setHeaders(reply, await manager.finish(entry.session, entry.info))
    return payload
  })
}

/**
 * Fastify plugin that gives every route registered after it a session. Wrapped with
 * fastify-plugin, so it applies to the whole app (not only its own encapsulation
 * context). Routes pass `request` (or `request.raw`) to the manager.
 *
 * - Commit: in `onSend`, before the reply (async payloads, streams, `reply.redirect`)
 *   is written; Set-Cookie goes on that reply, next to any other cookies.
 * - Store failure on load or commit: Fastify's error handler answers (500 by default).
 * - A handler that throws, or an error reply (`reply.send(err)`): the session is not
 *   committed.
 * - `reply.hijack()` bypasses `onSend`: such a route's session is not committed.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { SessionManager } from 'session-manager'
 * import { sessionPlugin } from 'session-manager/fastify'
 *
 * const manager = new SessionManager({ lifetime: '24h' })
 * const app = Fastify()
 * await app.register(sessionPlugin, { manager })
 * app.get('/', async (request) => {
 *   const visits = manager.getNumber(request, 'visits') + 1
 *   manager.put(request, 'visits', visits)
 *   return `visit ${visits}`
 * })
 * await app.listen({ port: 3000 })
 * ```
 */
export const sessionPlugin = fp<SessionPluginOptions>(sessions, {
  fastify: '5.x',
  name: 'session-manager',
})
