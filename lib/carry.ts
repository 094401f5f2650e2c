/**
 * Carrying express-session sessions over to this library, once: a request without a
 * session of ours but with a valid express-session cookie (`s:<sid>.<signature>`,
 * cookie-signature's HMAC-SHA256 with one of the old secrets) gets the old store
 * entry's data in a new session of ours (new token), the old cookie expired and the
 * old entry retired. Forged or wrongly signed cookies never reach the old store.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { expireCookie, readCookies } from './cookie.js'
import { ConfigError } from './errors.js'
import type { SessionContext, SessionManager } from './manager.js'

/** Where the old sessions are: `take` returns an entry's data to at most one caller and retires it. */
export interface LegacySource {
  /** The old session's data (express-session's JSON object), or undefined; the entry is gone afterwards. */
  take(sid: string): Promise<Record<string, unknown> | undefined>
}

/** Options of {@link carryOver}. */
export interface CarryOverOptions {
  /** express-session's `secret` (one or several: any of them verifies). */
  secrets: string | string[]
  /** The old store: {@link connectRedisSource}, {@link loaderSource}, or your own `take`. */
  source: LegacySource
  /** express-session's cookie name. Default `'connect.sid'`. */
  cookieName?: string
  /** Path and domain of the old cookie, to expire it. Default path `'/'`. */
  cookie?: { path?: string; domain?: string }
}

/** A validated carry-over, for the adapters' `carryOver` option. */
export interface CarryOver {
  /**
   * Carry the old session of this request over into `ctx`'s (new) session. Resolves to
   * a `Set-Cookie` value expiring the old cookie, or undefined when there was none.
   */
  run(manager: SessionManager, ctx: SessionContext, cookieHeader: string | undefined): Promise<string | undefined>
}

const SID = /^[\x21-\x7e]{1,256}$/

/**
 * Validate carry-over options once (ConfigError otherwise).
 *
 * @example
 * ```ts
 * app.use(sessionMiddleware(manager, {
 *   compat: true,
 *   carryOver: carryOver({ secrets: process.env.OLD_SECRET, source: connectRedisSource(redis) }),
 * }))
 * ```
 */
export function carryOver(options: CarryOverOptions): CarryOver {
  const secrets = typeof options?.secrets === 'string' ? [options.secrets] : options?.secrets
  if (!Array.isArray(secrets) || secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s === '')) {
    throw new ConfigError('carryOver: option secrets: expected a non-empty string or array of non-empty strings')
  }
  if (typeof options.source?.take !== 'function') {
    throw new ConfigError('carryOver: option source: expected { take(sid) } (connectRedisSource, loaderSource)')
  }
  const name = options.cookieName ?? 'connect.sid'
  const attrs = { path: options.cookie?.path ?? '/', domain: options.cookie?.domain }
  const source = options.source
  const keys = secrets.map((s) => Buffer.from(s, 'utf8'))
  return {
    async run(manager, ctx, header) {
      const values = readCookies(header, name)
      if (values.length === 0) return undefined
      const expire = expireCookie(name, attrs)
      if (!manager.session(ctx).isNew) return expire
      for (const value of values) {
        const sid = unsign(value, keys)
        if (sid === undefined) continue
        const data = await source.take(sid)
        if (data === undefined || expired(data)) return expire
        for (const [key, v] of Object.entries(data)) if (key !== 'cookie' && v !== undefined) manager.put(ctx, key, v)
        return expire
      }
      return undefined
    },
  }
}

/** The sid of a cookie-signature value `s:<sid>.<mac>` when a key signed it, else undefined (constant time per key). */
function unsign(raw: string, keys: Buffer[]): string | undefined {
  let value: string
  try {
    value = decodeURIComponent(raw)
  } catch {
    return undefined
  }
  if (!value.startsWith('s:')) return undefined
  const dot = value.lastIndexOf('.')
  if (dot < 3) return undefined
  const sid = value.slice(2, dot)
  if (!SID.test(sid)) return undefined
  const mac = Buffer.from(value.slice(dot + 1), 'utf8')
  let ok = false
  for (const key of keys) {
    const expected = Buffer.from(createHmac('sha256', key).update(sid).digest('base64').replace(/=+$/, ''), 'utf8')
    // Every key is tried, and lengths are public (a SHA-256 MAC always has 43 characters).
    if (expected.length === mac.length && timingSafeEqual(expected, mac)) ok = true
  }
  return ok ? sid : undefined
}

function expired(data: Record<string, unknown>): boolean {
  const cookie = data.cookie as { expires?: unknown } | undefined
  if (typeof cookie?.expires !== 'string') return false
  const at = Date.parse(cookie.expires)
  return Number.isFinite(at) && at <= Date.now()
}

/** The part of an ioredis client (Redis or Cluster) connect-redis entries are read with. */
export interface GetDelClient {
  getdel(key: string): Promise<string | null>
}

/**
 * connect-redis's entries (`<prefix><sid>` holding JSON, prefix default `'sess:'`),
 * read and deleted in one GETDEL (Redis >= 6.2), so one old cookie is carried over once
 * even when two requests race with it.
 */
export function connectRedisSource(client: GetDelClient, options: { prefix?: string } = {}): LegacySource {
  if (typeof client?.getdel !== 'function') throw new ConfigError('connectRedisSource: expected an ioredis client')
  const prefix = options.prefix ?? 'sess:'
  return {
    async take(sid) {
      const text = await client.getdel(prefix + sid)
      if (text === null) return undefined
      try {
        const data: unknown = JSON.parse(text)
        return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : undefined
      } catch {
        return undefined
      }
    },
  }
}

/**
 * Any other old store: your `load(sid)` and `retire(sid)` (e.g. an express-session
 * store's `get` and `destroy`, promisified). Not atomic: two racing requests with one
 * old cookie may both carry it over.
 */
export function loaderSource(
  load: (sid: string) => Promise<object | undefined | null>,
  retire: (sid: string) => Promise<void>,
): LegacySource {
  return {
    async take(sid) {
      const data = await load(sid)
      await retire(sid)
      return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : undefined
    },
  }
}
