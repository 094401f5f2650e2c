/**
 * The Fastify side of `sessionPlugin` with `compat: true` / `carryOver`: a
 * @fastify/session-like `request.session` (get/set/delete/regenerate/destroy/reload/
 * save/touch, property access; lib/compat.ts), and the CSRF guard hook.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { type CarryOver, CompatSession, CsrfError, isUnsafeMethod, offeredCsrf, type SessionManager } from '../lib/index.js'

/** The compat options of the Fastify plugin. */
export interface FastifyCompatOptions {
  /** Give `request.session` as @fastify/session does (@fastify/passport, @fastify/flash). Default `false`. */
  compat?: boolean
  /** Carry express-session sessions over (see `carryOver` in the core). */
  carryOver?: CarryOver | undefined
}

/** Declare `request.session` (@fastify/flash and @fastify/passport check the decorator). */
export function declareCompat(app: FastifyInstance, options: FastifyCompatOptions): void {
  // @fastify/session's own types (a dev dependency here) declare the decorator's type: null is what it starts as.
  if (options.compat === true) app.decorateRequest('session', null as never)
}

/**
 * After the session is attached: carry an old session over, put `request.session`.
 * Returns the flush the request end must run (undefined without compat).
 */
export async function fastifyCompat(
  manager: SessionManager,
  request: FastifyRequest,
  reply: FastifyReply,
  options: FastifyCompatOptions,
): Promise<(() => void) | undefined> {
  if (options.carryOver !== undefined) {
    const line = await options.carryOver.run(manager, request, request.headers.cookie)
    if (line !== undefined) reply.header('set-cookie', line)
  }
  if (options.compat !== true) return undefined
  const holder = request as unknown as { session: object | null }
  const compat = new CompatSession(manager, request, 'fastify', (value) => {
    holder.session = value ?? null
  })
  return () => compat.flush()
}

/** Options of {@link csrfHook}. */
export interface CsrfHookOptions {
  /** Request header carrying the token. Default `'x-csrf-token'`. */
  header?: string
  /** Body field carrying the token. Default `'_csrf'`. */
  field?: string
}

/**
 * A Fastify `preHandler` hook refusing unsafe requests whose CSRF token (header
 * `x-csrf-token` or body field `_csrf`) is not the session's: a `CsrfError`, answered
 * with 403.
 *
 * @example
 * ```ts
 * app.addHook('preHandler', csrfHook(manager))
 * ```
 */
export function csrfHook(manager: SessionManager, options: CsrfHookOptions = {}) {
  const header = (options.header ?? 'x-csrf-token').toLowerCase()
  const field = options.field ?? '_csrf'
  return async function csrf(request: FastifyRequest): Promise<void> {
    if (!isUnsafeMethod(request.method)) return
    if (!manager.verifyCsrf(request, offeredCsrf(request.headers[header], request.body, field))) throw new CsrfError()
  }
}
