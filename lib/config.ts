import { z } from 'zod'
import { type Codec, jsonCodec } from './codec.js'
import { COOKIE_NAME } from './cookie.js'
import { parseDuration } from './duration.js'
import { ConfigError } from './errors.js'
import { parseOptions } from './options.js'
import { type SigningKey, signingKeysSchema } from './signing.js'
import type { Store } from './store.js'

/** Where the token travels: a cookie, an `Authorization: Bearer` header, or either. */
export type Transport = 'cookie' | 'header' | 'both'

/** Cookie settings. Defaults follow the OWASP Session Management Cheat Sheet. */
export interface CookieOptions {
  /** Cookie name. Default `'session'`. */
  name?: string
  domain?: string
  /** Default `'/'`. */
  path?: string
  /** Default `true`: scripts cannot read the token. */
  httpOnly?: boolean
  /** `true`, `false`, or `'auto'` (default): Secure when the request came over HTTPS. */
  secure?: boolean | 'auto'
  /** Default `'lax'`. `'none'` requires `secure: true`. */
  sameSite?: 'lax' | 'strict' | 'none'
  /** CHIPS partitioned cookie; requires `secure: true`. Default `false`. */
  partitioned?: boolean
  /** Persistent cookie (Expires/Max-Age = session expiry) unless `rememberMe(false)`. Default `true`. */
  persist?: boolean
}

/** Minimal logger; `console` fits. */
export interface Logger {
  warn(message: string, detail?: unknown): void
  error(message: string, detail?: unknown): void
}

/**
 * Answers a request whose session could not be loaded or saved, for `loadAndSave` and
 * the node adapter (the other adapters use their framework's own error path). It is
 * called with the error and the adapter's request and response — Node's
 * `IncomingMessage` and `ServerResponse` — and may be async: a throw or a rejection is
 * logged and answered with a bare 500. Default: log the error and answer 500 with no
 * detail. The core names no runtime's types, so annotate the parameters (any handler
 * typed for Node's request and response fits).
 *
 * @example
 * ```ts
 * errorHandler: (err: unknown, req: IncomingMessage, res: ServerResponse) => { res.statusCode = 503; res.end('try again') }
 * ```
 */
export type ErrorHandler = {
  // Method syntax: parameters are checked bivariantly, so a handler typed for a
  // runtime's own request and response is accepted.
  handle(err: unknown, req: unknown, res: unknown): unknown
}['handle']

/** Options of `new SessionManager(options)`. Every one is optional. */
export interface SessionManagerOptions<Data extends Record<string, unknown> = Record<string, unknown>> {
  /** Where sessions live. Default: a new `MemoryStore`. */
  store?: Store
  /** Absolute limit from creation: ms or a duration like `'24h'`. Default `'24h'`. */
  lifetime?: number | string
  /** Sliding expiry after the last request, never past `lifetime`. Default: none. */
  idleTimeout?: number | string
  /** Store key prefix; managers with different prefixes never collide. Default `'session:'`. */
  prefix?: string
  cookie?: CookieOptions
  /** Default `'cookie'`. */
  transport?: Transport
  /** Response header that carries a new token for `transport` `'header'`/`'both'`. Default `'session-token'`. */
  tokenHeader?: string
  /** Believe `X-Forwarded-Proto` for `cookie.secure: 'auto'`. Default `false`. */
  trustProxy?: boolean
  /** Store sha256(token) instead of the token. Default `true`. */
  hashTokenInStore?: boolean
  /** Default: {@link jsonCodec}. */
  codec?: Codec
  /** Largest encoded session in bytes; larger commits fail with `TooLargeError`. Default: no limit. */
  maxSize?: number
  /** A zod schema of the session's values: types put/get and validates data on load. */
  schema?: z.ZodType<Data>
  /** What a store failure does to a request: `'fail'` (default, error handler) or `'anonymous'`. */
  onStoreError?: 'fail' | 'anonymous'
  /** See {@link ErrorHandler}. */
  errorHandler?: ErrorHandler
  /** A store call slower than this fails with `ERR_STORE_TIMEOUT`. Default 5000 ms. */
  storeTimeout?: number | string
  /** Versioned-commit retries on conflict before giving up. Default 10. */
  commitRetries?: number
  /** Default `console`. */
  logger?: Logger
  /**
   * Sign tokens in transit (`token.kid.mac`): forged cookies are refused before any
   * store call. Keys of 32+ random bytes; the first signs, all verify (rotation).
   */
  signingKeys?: SigningKey[]
  /**
   * A login evicts the user's other sessions (the newest login wins a race): the same
   * as `maxSessionsPerUser: 1`, kept as its alias. Default `false`.
   */
  singleSession?: boolean
  /**
   * At most this many sessions per user (an integer >= 1; needs a store with a user
   * index). What a login over the limit does is `onSessionLimit`. Default: no limit.
   */
  maxSessionsPerUser?: number
  /**
   * A login over `maxSessionsPerUser`: `'evictOldest'` (default) deletes the user's
   * oldest logins so the newest N stay; `'refuse'` keeps the N there are and the login
   * fails with `SessionLimitError` (code `ERR_SESSION_LIMIT`; needs a versioned store).
   * Both hold when logins race on several processes.
   */
  onSessionLimit?: 'evictOldest' | 'refuse'
  /** Loads the info `manager.user(ctx)` returns for a user id; cached next to the sessions. */
  loadUser?: (userId: string) => unknown
  /** How long cached user info stays fresh. Default `'5m'`. */
  userCacheTtl?: number | string
  /**
   * After `login`/`renewToken`, the old token stays readable (never writable) this
   * long, so a page's parallel requests do not fail mid-login. Default: off (OWASP
   * wants the old id dead at once).
   */
  renewGrace?: number | string
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number
}

const isFn = (v: unknown) => typeof v === 'function'

/**
 * Longest duration a cookie or a stored expiry may be given: 2^31 - 1 seconds (about 68
 * years), the largest Max-Age every cookie parser holds as a 32-bit integer; `now` plus
 * this is always a valid Date.
 */
export const MAX_AGE_MS = (2 ** 31 - 1) * 1000
/** Longest timer delay Node honours (2^31 - 1 ms, about 24.8 days); longer fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1

const duration = (what: string, max: number, maxText: string) =>
  z
    .union([z.number(), z.string()], { error: `expected ${what}` })
    .transform((v, ctx) => {
      const ms = parseDuration(v)
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected ${what}, got ${JSON.stringify(v)}` })
        return z.NEVER
      }
      if (ms > max) {
        ctx.addIssue({ code: 'custom', message: `expected at most ${maxText}, got ${JSON.stringify(v)}` })
        return z.NEVER
      }
      return ms
    })

const durationText = "a positive number of ms or a duration like '30m' or '24h'"
const ageText = `${MAX_AGE_MS} ms (2^31 - 1 seconds, the largest Max-Age)`
const timerText = `${MAX_TIMER_MS} ms (2^31 - 1 ms, the largest timer delay)`
/** A duration that ends up in a cookie's Max-Age or a stored expiry. */
const age = () => duration(durationText, MAX_AGE_MS, ageText)

/** The RFC 6265 path-value: printable ASCII but `;`, here also no space; starting with `/`. */
const COOKIE_PATH = /^\/[\x21-\x3A\x3C-\x7E]*$/
/** A host name: dot-separated LDH labels, optionally with one leading dot. */
const COOKIE_DOMAIN = /^\.?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

const schema = z.strictObject({
  store: z
    .custom<Store>(
      (s) =>
        s !== null &&
        typeof s === 'object' &&
        ['find', 'commit', 'delete'].every((m) => isFn((s as Record<string, unknown>)[m])),
      { error: 'expected a Store (an object with find, commit and delete methods)' },
    )
    .optional(),
  lifetime: age().default(86_400_000),
  idleTimeout: age().optional(),
  prefix: z.string({ error: 'expected a string' }).default('session:'),
  cookie: z
    .strictObject({
      name: z.string().regex(COOKIE_NAME, { error: 'expected a cookie name (RFC 6265 token)' }).default('session'),
      domain: z.string().max(253).regex(COOKIE_DOMAIN, { error: 'expected a domain name (ASCII letters, digits, - and .)' }).optional(),
      path: z
        .string()
        .max(1024)
        .regex(COOKIE_PATH, { error: "expected a path starting with '/' of printable ASCII, no ';' or space (percent-encode others)" })
        .default('/'),
      httpOnly: z.boolean({ error: 'expected a boolean' }).default(true),
      secure: z.union([z.boolean(), z.literal('auto')], { error: "expected true, false or 'auto'" }).default('auto'),
      sameSite: z.enum(['lax', 'strict', 'none'], { error: "expected 'lax', 'strict' or 'none'" }).default('lax'),
      partitioned: z.boolean({ error: 'expected a boolean' }).default(false),
      persist: z.boolean({ error: 'expected a boolean' }).default(true),
    })
    .default({
      name: 'session',
      path: '/',
      httpOnly: true,
      secure: 'auto',
      sameSite: 'lax',
      partitioned: false,
      persist: true,
    })
    .superRefine((c, ctx) => {
      // A browser drops these cookies unless they carry Secure; 'auto' would send them
      // without it over plain HTTP, so each needs secure: true (localhost is a secure
      // context, so this holds in development too).
      const need = (why: string) =>
        c.secure !== true && ctx.addIssue({ code: 'custom', path: ['secure'], message: `expected true: ${why} requires Secure, got ${JSON.stringify(c.secure)}` })
      if (c.sameSite === 'none') need("sameSite 'none'")
      if (c.partitioned) need('partitioned')
      if (c.name.startsWith('__Secure-')) need("the '__Secure-' name prefix")
      if (c.name.startsWith('__Host-')) {
        need("the '__Host-' name prefix")
        if (c.domain !== undefined) ctx.addIssue({ code: 'custom', path: ['domain'], message: "expected none: the '__Host-' name prefix forbids a Domain" })
        if (c.path !== '/') ctx.addIssue({ code: 'custom', path: ['path'], message: `expected '/': the '__Host-' name prefix requires Path=/, got ${JSON.stringify(c.path)}` })
      }
    }),
  transport: z.enum(['cookie', 'header', 'both'], { error: "expected 'cookie', 'header' or 'both'" }).default('cookie'),
  tokenHeader: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, { error: 'expected a header name' })
    .transform((s) => s.toLowerCase())
    .default('session-token'),
  trustProxy: z.boolean({ error: 'expected a boolean' }).default(false),
  hashTokenInStore: z.boolean({ error: 'expected a boolean' }).default(true),
  codec: z
    .custom<Codec>((c) => c !== null && typeof c === 'object' && isFn((c as Codec).encode) && isFn((c as Codec).decode), {
      error: 'expected a codec with encode and decode',
    })
    .default(jsonCodec),
  maxSize: z.number({ error: 'expected a number of bytes' }).int().positive().optional(),
  schema: z
    .custom<z.ZodType>((s) => s instanceof z.ZodType, { error: 'expected a zod schema' })
    .optional(),
  onStoreError: z.enum(['fail', 'anonymous'], { error: "expected 'fail' or 'anonymous'" }).default('fail'),
  errorHandler: z.custom<ErrorHandler>(isFn, { error: 'expected a function' }).optional(),
  storeTimeout: duration(durationText, MAX_TIMER_MS, timerText).default(5000),
  commitRetries: z.number({ error: 'expected a whole number' }).int().min(0).max(1000).default(10),
  logger: z
    .custom<Logger>((l) => l !== null && typeof l === 'object' && isFn((l as Logger).warn) && isFn((l as Logger).error), {
      error: 'expected a logger with warn and error',
    })
    .default(console),
  now: z.custom<() => number>(isFn, { error: 'expected a function' }).default(() => Date.now),
  singleSession: z.boolean({ error: 'expected a boolean' }).default(false),
  maxSessionsPerUser: z
    .number({ error: 'expected a whole number >= 1' })
    .int({ error: 'expected a whole number >= 1' })
    .min(1, { error: 'expected a whole number >= 1' })
    .max(100_000, { error: 'expected a whole number <= 100000' })
    .optional(),
  onSessionLimit: z.enum(['evictOldest', 'refuse'], { error: "expected 'evictOldest' or 'refuse'" }).optional(),
  loadUser: z.custom<(userId: string) => unknown>(isFn, { error: 'expected a function' }).optional(),
  userCacheTtl: age().default(300_000),
  renewGrace: age().optional(),
  signingKeys: signingKeysSchema.optional(),
})

/** Options after defaults and validation (`singleSession` folded into `maxSessionsPerUser`). */
export type ResolvedConfig = Omit<z.output<typeof schema>, 'onSessionLimit'> & {
  onSessionLimit: 'evictOldest' | 'refuse'
}

/**
 * Validate `options` and merge defaults. Throws one `ConfigError` naming every bad
 * option and what was expected.
 */
export function resolveConfig(options: unknown): Readonly<ResolvedConfig> {
  const config = parseOptions('SessionManager', schema, options)
  if (config.idleTimeout !== undefined && config.idleTimeout > config.lifetime) {
    throw new ConfigError('invalid SessionManager options: option idleTimeout: must not exceed lifetime')
  }
  // singleSession is maxSessionsPerUser: 1 under its old name; both at once must agree.
  if (config.singleSession && config.maxSessionsPerUser !== undefined && config.maxSessionsPerUser !== 1) {
    throw new ConfigError(
      `invalid SessionManager options: option singleSession: means maxSessionsPerUser 1, but maxSessionsPerUser is ${config.maxSessionsPerUser}`,
    )
  }
  const maxSessionsPerUser = config.singleSession ? 1 : config.maxSessionsPerUser
  if (config.onSessionLimit !== undefined && maxSessionsPerUser === undefined) {
    throw new ConfigError('invalid SessionManager options: option onSessionLimit: needs maxSessionsPerUser (or singleSession)')
  }
  return Object.freeze({
    ...config,
    maxSessionsPerUser,
    onSessionLimit: config.onSessionLimit ?? 'evictOldest',
    cookie: Object.freeze({ ...config.cookie }),
  })
}
