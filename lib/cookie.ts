/**
 * Pure helpers to read one cookie from a `Cookie` header and to write a `Set-Cookie`
 * value. No framework, no I/O.
 */

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
 */
export function readCookies(header: string | undefined, name: string): string[] {
  if (header === undefined || header.length > MAX_HEADER) return []
  const found: string[] = []
  let at = header.indexOf(name)
  while (at !== -1) {
    const before = at === 0 ? ';' : header[at - 1]
    const start = at + name.length
    // A match must be a whole name: after `;` or `; ` and followed by `=`.
    if ((before === ';' || before === ' ') && header[start] === '=') {
      let end = header.indexOf(';', start)
      if (end === -1) end = header.length
      let value = header.slice(start + 1, end).trim()
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
        value = value.slice(1, -1)
      }
      found.push(value)
    }
    at = header.indexOf(name, start)
  }
  return found
}

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
    line += `; SameSite=${attrs.sameSite[0]?.toUpperCase()}${attrs.sameSite.slice(1)}`
  }
  if (attrs.partitioned === true) line += '; Partitioned'
  return line
}

/** A `Set-Cookie` value that makes the browser drop the cookie at once. */
export function expireCookie(name: string, attrs: CookieAttributes): string {
  return serializeCookie(name, '', { ...attrs, expires: new Date(0) })
}
