/**
 * CSRF tokens tied to the session (OWASP CSRF Prevention Cheat Sheet, "synchronizer
 * token"): one random token per session, stored in it, bound to the session's current
 * store key so that a new token (`renewToken`, `login`, compat `regenerate`) makes a
 * new CSRF token too, and compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { SessionError } from './errors.js'
import type { SessionState } from './session.js'
import { generateToken } from './token.js'

/** The session key the CSRF token lives under. */
export const CSRF_KEY = 'session-manager:csrf'

/** Methods that change nothing by definition (RFC 9110): never guarded. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** A refused unsafe request: no CSRF token, or not this session's. `status` 403 for Express, Fastify and Koa. */
export class CsrfError extends SessionError {
  /** HTTP status the frameworks' default error handlers answer with. */
  readonly status = 403
  /** The same, under Fastify's name. */
  readonly statusCode = 403
  /** Koa: the message may be shown to the client. */
  readonly expose = true
  constructor() {
    super('ERR_CSRF', 'missing or invalid CSRF token')
  }
}

interface Stored {
  token: string
  bound: string
}

const digest = (s: string) => createHash('sha256').update(s).digest()
// A sealing store's key is the seal itself and changes every commit: bind to nothing there.
const bindingOf = (session: SessionState, sealing: boolean) =>
  sealing ? 'sealed' : digest(`csrf:${session.storeKey ?? ''}`).toString('base64url').slice(0, 22)

function stored(session: SessionState, sealing: boolean): Stored | undefined {
  const value = session.values.get(CSRF_KEY) as Partial<Stored> | undefined
  if (typeof value !== 'object' || value === null || typeof value.token !== 'string' || typeof value.bound !== 'string') return undefined
  return value.bound === bindingOf(session, sealing) ? (value as Stored) : undefined
}

/**
 * The session's CSRF token, made (and stored) on first use or after a token renewal.
 * `mint` gives a new session its token first, so the binding is the final one.
 */
export function csrfToken(session: SessionState, mint: () => void, sealing: boolean): string {
  const found = stored(session, sealing)
  if (found !== undefined) return found.token
  const token = generateToken()
  session.put(CSRF_KEY, { token, bound: '' })
  mint()
  session.put(CSRF_KEY, { token, bound: bindingOf(session, sealing) })
  return token
}

/** True when `candidate` is the session's current CSRF token (constant time). */
export function verifyCsrf(session: SessionState, candidate: unknown, sealing: boolean): boolean {
  const found = stored(session, sealing)
  if (found === undefined || typeof candidate !== 'string' || candidate === '') return false
  return timingSafeEqual(digest(found.token), digest(candidate))
}

/** True for methods a CSRF guard checks (everything but GET, HEAD, OPTIONS, TRACE). */
export function isUnsafeMethod(method: string | undefined): boolean {
  return !SAFE.has((method ?? 'GET').toUpperCase())
}

/** The CSRF token a request offers: the header (default `x-csrf-token`), else the body field `_csrf`. */
export function offeredCsrf(header: unknown, body: unknown, field = '_csrf'): string | undefined {
  const h = Array.isArray(header) ? header[0] : header
  if (typeof h === 'string' && h !== '') return h
  if (typeof body === 'object' && body !== null) {
    const v = (body as Record<string, unknown>)[field]
    if (typeof v === 'string') return v
  }
  return undefined
}
