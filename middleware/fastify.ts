/**
 * Fastify adapter: load the session in `onRequest`, commit it in `onSend` (Fastify's
 * own pre-send point, STYLE.md rule 8), never commit a request that failed (`onError`).
 * Needs no @fastify/cookie: the manager reads and writes the cookie header itself.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ConfigError, mergeSessionHeaders, type Session, type SessionHeaders, SessionManager } from '../lib/index.js'
import { endOnClose, requestInfo } from '../lib/node/serve.js'
import { declareCompat, type FastifyCompatOptions, fastifyCompat } from './fastify-compat.js'

export { csrfHook, type CsrfHookOptions, type FastifyCompatOptions } from './fastify-compat.js'

/** Options of {@link sessionPlugin}. */
export interface SessionPluginOptions extends FastifyCompatOptions {
  /** The manager whose sessions the routes use. */
  manager: SessionManager
}

/** Set the commit's headers through Fastify (a second `set-cookie` is appended by Fastify itself). */
function setHeaders(reply: FastifyReply, headers: SessionHeaders): void {
  mergeSessionHeaders(
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
  const loaded = new WeakMap<FastifyRequest, Session>()
  // compat / carryOver (middleware/fastify-compat.ts): the flush each request end runs first.
  const compat = options.compat === true || options.carryOver !== undefined
  const flushes = new WeakMap<FastifyRequest, () => void>()
  declareCompat(app, options)

  app.addHook('onRequest', async function loadSession(request, reply) {
    // A store failure rejects here and goes to Fastify's error handler.
    const attached = manager.attach([request, request.raw], requestInfo(request.raw))
    if (attached instanceof Promise) {
      const session = await attached
      // Abandoned or hijacked requests never reach onSend: they end when the socket closes.
      endOnClose(manager, reply.raw, session)
      loaded.set(request, session)
    } else {
      loaded.set(request, attached)
    }
    const flush = compat ? await fastifyCompat(manager, request, reply, options) : undefined
    if (flush !== undefined) flushes.set(request, flush)
  })

  app.addHook('onError', async function abortSession(request) {
    const session = loaded.get(request)
    // onSend runs again for the error response: the ended session adds nothing to it.
    if (session !== undefined) manager.end(session, true)
  })

  app.addHook('onSend', async function commitSession(request, reply, payload) {
    const session = loaded.get(request)
    if (session === undefined) return payload
    // The end is once per request: a failing commit routes to the error handler,
    // whose reply comes back here and ends with nothing more to do.
    flushes.get(request)?.()
    const out = manager.end(session)
    const headers = out instanceof Promise ? await out : out
    if (headers.length > 0) setHeaders(reply, headers)
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
 * - `reply.hijack()` bypasses `onSend`: such a route's session is not committed; its
 *   request ends (releasing what it held) when the connection closes.
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
