/**
 * Pure helpers to read one cookie from a `Cookie` header and to write a `Set-Cookie`
 * value. No framework, no I/O.
 */

import { parseCookie } from 'cookie'

/** Attributes of a `Set-Cookie` line. */
export interface CookieAttributes {
  domain?: string | undefined
  path?: string | undefined
  httpOnly?: boolean | undefined
  secure?: boolean | undefined
  sameSite?: 'lax' | 'strict' | 'none' | undefined
  partitioned?: boolean | undefined
  /** Absolute expiry; omitted for a browser-session cookie. */
  expires?: Date | undefined
}

/** Cookie names must be RFC 6265 tokens. */
export const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** Longest `Cookie` header we look into; longer headers are not parsed (no session). */
const MAX_HEADER = 16 * 1024

/**
 * Every value of cookie `name` in a `Cookie` header, in order (a browser may send
 * several with the same name for different paths or domains).
 *
 * Each `;`-separated pair is parsed by the maintained `cookie` package (1.x), so a
 * cookie is found only as a whole pair of its own: `pref=dark __Host-sid=EVIL` is one
 * cookie `pref`, never a `__Host-sid`. Values are decoded and left quoted as the package
 * does; the first value is always the one `cookie.parse(header)[name]` gives.
 */
export function readCookies(header: string | undefined, name: string): string[] {
  if (header === undefined || header.length > MAX_HEADER || !header.includes(name)) return []
  const found: string[] = []
  for (const pair of header.split(';')) {
    if (!pair.includes(name)) continue
    const value = parseCookie(pair)[name]
    if (value !== undefined) found.push(value)
  }
  return found
}

/** The attribute's spelling, without building it per cookie. */
const SAME_SITE: ReadonlyMap<string, string> = new Map([['lax', 'Lax'], ['strict', 'Strict'], ['none', 'None']])

/** A `Set-Cookie` header value. `value` must already be cookie-safe (tokens are). */
export function serializeCookie(
  name: string,
  value: string,
  attrs: CookieAttributes,
  now: number = Date.now(),
): string {
  let line = `${name}=${value}`
  if (attrs.domain !== undefined) line += `; Domain=${attrs.domain}`
  line += `; Path=${attrs.path ?? '/'}`
  if (attrs.expires !== undefined) {
    const maxAge = Math.max(0, Math.round((attrs.expires.getTime() - now) / 1000))
    line += `; Expires=${attrs.expires.toUTCString()}; Max-Age=${maxAge}`
  }
  if (attrs.httpOnly !== false) line += '; HttpOnly'
  if (attrs.secure === true) line += '; Secure'
  if (attrs.sameSite !== undefined) {
    line += `; SameSite=${SAME_SITE.get(attrs.sameSite) ?? `${attrs.sameSite[0]?.toUpperCase()}${attrs.sameSite.slice(1)}`}`
  }
  if (attrs.partitioned === true) line += '; Partitioned'
  return line
}

/** A `Set-Cookie` value that makes the browser drop the cookie at once. */
export function expireCookie(name: string, attrs: CookieAttributes): string {
  return serializeCookie(name, '', { ...attrs, expires: new Date(0) })
}
