import type { IncomingHttpHeaders, IncomingMessage, OutgoingMessage } from 'node:http'
import type { ResolvedConfig } from './config.js'
import { expireCookie, readCookies, serializeCookie } from './cookie.js'
import type { CommitResult } from './lifecycle.js'
import { isToken } from './token.js'

/** The parts of a request the manager reads: headers, and whether it came over TLS. */
export interface RequestInfo {
  headers: IncomingHttpHeaders
  /** True when the connection itself is TLS. */
  encrypted?: boolean | undefined
}

/** RequestInfo of a Node request (also what Express, Fastify's `raw` and Koa's `req` are). */
export function requestInfo(req: IncomingMessage): RequestInfo {
  return { headers: req.headers, encrypted: (req.socket as { encrypted?: boolean } | null)?.encrypted }
}

/** True when the request reached us over HTTPS (directly, or via a trusted proxy). */
export function isSecure(req: RequestInfo, trustProxy: boolean): boolean {
  if (req.encrypted === true) return true
  if (!trustProxy) return false
  const proto = req.headers['x-forwarded-proto']
  const first = (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim().toLowerCase()
  return first === 'https'
}

/**
 * The token a request carries, by the configured transport, as `fromWire` reads it
 * (by default: the value itself when it has a token's shape). Values it refuses are
 * skipped here, so they never cost a store call.
 */
export function readToken<T = string>(
  req: RequestInfo,
  config: Readonly<ResolvedConfig>,
  fromWire: (value: string) => T | undefined = (v) => (isToken(v) ? (v as T) : undefined),
): T | undefined {
  if (config.transport !== 'cookie') {
    const auth = req.headers.authorization
    if (auth !== undefined && auth.length < 8192 && /^bearer /i.test(auth)) {
      const token = fromWire(auth.slice(7).trim())
      if (token !== undefined) return token
    }
  }
  if (config.transport !== 'header') {
    for (const value of readCookies(req.headers.cookie, config.cookie.name)) {
      const token = fromWire(value)
      if (token !== undefined) return token
    }
  }
  return undefined
}

/** Name/value pairs the response must carry after a commit (none for `action: 'none'`). */
export function responseHeaders(
  result: CommitResult,
  config: Readonly<ResolvedConfig>,
  req: RequestInfo,
  toWire: (token: string) => string = (t) => t,
): Array<[string, string]> {
  if (result.action === 'none') return []
  const wire = result.action === 'set' ? toWire(result.token ?? '') : ''
  const headers: Array<[string, string]> = []
  if (config.transport !== 'header') {
    const c = config.cookie
    const attrs = {
      domain: c.domain,
      path: c.path,
      httpOnly: c.httpOnly,
      secure: c.secure === 'auto' ? isSecure(req, config.trustProxy) : c.secure,
      sameSite: c.sameSite,
      partitioned: c.partitioned,
    }
    headers.push([
      'set-cookie',
      result.action === 'set'
        ? serializeCookie(c.name, wire, { ...attrs, expires: result.expires }, config.now())
        : expireCookie(c.name, attrs),
    ])
    // A shared cache must never hand one visitor's cookie to another.
    headers.push(['vary', 'Cookie'], ['cache-control', 'no-cache="Set-Cookie"'])
  }
  if (config.transport !== 'cookie') {
    headers.push([config.tokenHeader, wire])
  }
  return headers
}

/** Where session headers go: a Node response, a Fastify reply, a Koa context. */
export interface HeaderTarget {
  get(name: string): unknown
  set(name: string, value: string): void
  append(name: string, value: string): void
}

/**
 * Add a commit's headers, merging with what the handler already set: Set-Cookie is
 * appended next to the app's own cookies; Vary and Cache-Control are extended, not
 * replaced (and not repeated).
 */
export function setSessionHeaders(target: HeaderTarget, headers: Array<[string, string]>): void {
  for (const [name, value] of headers) {
    if (name === 'set-cookie') {
      target.append(name, value)
      continue
    }
    const existing = target.get(name)
    if ((name === 'vary' || name === 'cache-control') && existing !== undefined && existing !== '') {
      const text = String(existing)
      if (!text.toLowerCase().includes(value.toLowerCase())) target.set(name, `${text}, ${value}`)
    } else {
      target.set(name, value)
    }
  }
}

/** Add `headers` to a Node response (see {@link setSessionHeaders}). */
export function applyHeaders(res: OutgoingMessage, headers: Array<[string, string]>): void {
  setSessionHeaders(
    {
      get: (name) => res.getHeader(name),
      set: (name, value) => res.setHeader(name, value),
      append: (name, value) => res.appendHeader(name, value),
    },
    headers,
  )
}
