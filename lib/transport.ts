/**
 * How the token travels, in both directions and for every runtime: read from a
 * request's Cookie or Authorization header, written as Set-Cookie or a token header,
 * and merged into whatever headers the app chose. Header strings in, header strings
 * out: no framework, no node:http.
 */
import type { ResolvedConfig } from './config.js'
import { expireCookie, readCookies, serializeCookie } from './cookie.js'

/**
 * The parts of a request the manager reads. Each adapter fills it from its own request
 * type (Node's `IncomingMessage`, a Fetch `Request`, …).
 */
export interface RequestInfo {
  /** The `Cookie` header. */
  cookie: string | undefined
  /** The `Authorization` header. */
  authorization: string | undefined
  /** `X-Forwarded-Proto`, believed only with `trustProxy`. */
  forwardedProto: string | undefined
  /** True when the connection itself is TLS. */
  encrypted: boolean
}

/** What a commit asks of the response. */
export interface CommitResult {
  /** `set`: send the (new or refreshed) token; `expire`: drop it; `none`: leave it. */
  action: 'none' | 'set' | 'expire'
  /** The token to send when `action` is `set`. */
  token?: string | undefined
  /** Cookie expiry for a persistent cookie; undefined for a browser-session cookie. */
  expires?: Date | undefined
}

/** Name/value pairs a response must carry after a request's session work. */
export type SessionHeaders = ReadonlyArray<readonly [name: string, value: string]>

/** No headers: what most requests end with (shared, never mutated). */
export const NO_HEADERS: SessionHeaders = Object.freeze([])

/** Longest Authorization header looked into. */
const MAX_AUTHORIZATION = 8192

/** True when the request reached us over HTTPS (directly, or via a trusted proxy). */
export function isSecure(req: RequestInfo, trustProxy: boolean): boolean {
  if (req.encrypted) return true
  if (!trustProxy || req.forwardedProto === undefined) return false
  return req.forwardedProto.split(',')[0]?.trim().toLowerCase() === 'https'
}

/**
 * The token a request carries, by the configured transport, as `fromWire` reads it.
 * Values it refuses are skipped here, so they never cost a store call.
 */
export function readToken<T>(
  req: RequestInfo,
  config: Readonly<ResolvedConfig>,
  fromWire: (value: string) => T | undefined,
): T | undefined {
  if (config.transport !== 'cookie') {
    const auth = req.authorization
    if (auth !== undefined && auth.length < MAX_AUTHORIZATION && /^bearer /i.test(auth)) {
      const token = fromWire(auth.slice(7).trim())
      if (token !== undefined) return token
    }
  }
  if (config.transport !== 'header') {
    for (const value of readCookies(req.cookie, config.cookie.name)) {
      const token = fromWire(value)
      if (token !== undefined) return token
    }
  }
  return undefined
}

/**
 * Cache protection, OWASP Session Management Cheat Sheet ("Web Content Caching"): a
 * response that sets a session cookie must not be replayed by a shared cache to
 * another visitor, and one that carries a token in a header must not be stored by one
 * at all. https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html
 */
const COOKIE_CACHE = 'no-cache="Set-Cookie"'
const TOKEN_CACHE = 'private'

/** The headers a commit's result asks of the response (none for `action: 'none'`). */
export function sessionHeaders(
  result: CommitResult,
  config: Readonly<ResolvedConfig>,
  req: RequestInfo | undefined,
  toWire: (token: string) => string,
): SessionHeaders {
  if (result.action === 'none') return NO_HEADERS
  const wire = result.action === 'set' ? toWire(result.token ?? '') : ''
  const headers: Array<readonly [string, string]> = []
  if (config.transport !== 'header') {
    const c = config.cookie
    // One object with the expiry in it: a spread copy per commit was a second one.
    const attrs = {
      domain: c.domain,
      path: c.path,
      httpOnly: c.httpOnly,
      secure: c.secure === 'auto' ? req !== undefined && isSecure(req, config.trustProxy) : c.secure,
      sameSite: c.sameSite,
      partitioned: c.partitioned,
      expires: result.action === 'set' ? result.expires : undefined,
    }
    headers.push(
      ['set-cookie', result.action === 'set' ? serializeCookie(c.name, wire, attrs, config.now()) : expireCookie(c.name, attrs)],
      VARY_COOKIE,
      COOKIE_CACHE_HEADER,
    )
  }
  if (config.transport !== 'cookie') {
    // An emptied header tells a header client its token is gone.
    headers.push([config.tokenHeader, wire])
    if (result.action === 'set') headers.push(TOKEN_CACHE_HEADER)
  }
  return headers
}

/** Constant pairs, shared by every response (SessionHeaders are read-only). */
const VARY_COOKIE = ['vary', 'Cookie'] as const
const COOKIE_CACHE_HEADER = ['cache-control', COOKIE_CACHE] as const
const TOKEN_CACHE_HEADER = ['cache-control', TOKEN_CACHE] as const

/** Where session headers go: a Node response, a Fastify reply, a Koa context, Fetch `Headers`. */
export interface HeaderTarget {
  /** The current value (several values joined or as an array), or undefined/''. */
  get(name: string): unknown
  set(name: string, value: string): void
  append(name: string, value: string): void
}

const text = (v: unknown): string => (Array.isArray(v) ? v.join(', ') : v === undefined || v === null ? '' : String(v))
const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '')

/**
 * Add the session's headers to a response, merging with what the app set: Set-Cookie
 * is appended next to the app's own cookies; Vary is merged token by token (a `*` already
 * covers it); Cache-Control keeps the app's directives and gains the session's
 * protection, once — and `private` withdraws the app's `public` and `s-maxage`, which
 * would let a shared cache store the token.
 */
export function mergeSessionHeaders(target: HeaderTarget, headers: SessionHeaders): void {
  for (const [name, value] of headers) {
    if (name === 'set-cookie') {
      target.append(name, value)
      continue
    }
    // Nothing of the app's to merge with (the usual case): no lists to split and join.
    const current = target.get(name)
    if (current === undefined || current === null || current === '') {
      target.set(name, value)
      continue
    }
    if (name === 'vary') {
      const have = list(text(current))
      const lower = have.map((s) => s.toLowerCase())
      if (lower.includes('*') || lower.includes(value.toLowerCase())) continue
      target.set(name, [...have, value].join(', '))
    } else if (name === 'cache-control') {
      let have = list(text(current))
      if (value === TOKEN_CACHE) have = have.filter((d) => !/^(public|s-maxage\s*=.*)$/i.test(d))
      if (!have.some((d) => d.toLowerCase() === value.toLowerCase())) have.push(value)
      target.set(name, have.join(', '))
    } else {
      target.set(name, value)
    }
  }
}
