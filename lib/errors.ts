/**
 * Stable error codes. Tests and applications match on these, never on messages.
 */
export type SessionErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_STORE'
  | 'ERR_STORE_TIMEOUT'
  | 'ERR_STORE_REPLICATION'
  | 'ERR_CODEC'
  | 'ERR_TOO_LARGE'
  | 'ERR_NO_SESSION'
  | 'ERR_UNSUPPORTED'
  | 'ERR_CONFLICT'
  | 'ERR_SESSION_LIMIT'
  | 'ERR_CSRF'
  | 'ERR_SCHEMA'
  | 'ERR_RESPONSE'

/**
 * The one base error of session-manager: a stable `code`, a message for humans and
 * the underlying `cause` when there is one.
 *
 * @example
 * ```ts
 * try { new SessionManager({ lifetime: -1 }) }
 * catch (err) { if (err instanceof SessionError && err.code === 'ERR_CONFIG') … }
 * ```
 */
export class SessionError extends Error {
  /** Stable machine-readable code. */
  readonly code: SessionErrorCode

  constructor(code: SessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A bad option given to a constructor; thrown at construction, never per request. */
export class ConfigError extends SessionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG', message, options)
  }
}

/** The codes a {@link StoreError} carries. */
export type StoreErrorCode = 'ERR_STORE' | 'ERR_STORE_TIMEOUT' | 'ERR_STORE_REPLICATION'

/**
 * A store call failed or timed out. Carries the store's name so the error handler and
 * the logs say which backend broke. Codes: `ERR_STORE` (the call failed; the client's
 * error is the `cause`), `ERR_STORE_TIMEOUT` (no answer within `storeTimeout`),
 * `ERR_STORE_REPLICATION` (the write is on the primary, but fewer replicas than the
 * store's `waitReplicas` acknowledged it in time: it may be lost on failover).
 *
 * @example
 * ```ts
 * catch (err) { if (err instanceof StoreError && err.code === 'ERR_STORE_REPLICATION') retryLater() }
 * ```
 */
export class StoreError extends SessionError {
  declare readonly code: StoreErrorCode
  /** Name of the failing store (its class name unless it says otherwise). */
  readonly store: string
  /** The store operation that failed: `find`, `commit`, `delete`, … */
  readonly operation: string

  /**
   * @param options.timeout - true for `ERR_STORE_TIMEOUT` (same as `code: 'ERR_STORE_TIMEOUT'`)
   * @param options.code - the code, `ERR_STORE` by default
   * @param options.detail - what went wrong, appended to the message after a colon
   */
  constructor(
    store: string,
    operation: string,
    options: { cause?: unknown; timeout?: boolean; code?: StoreErrorCode; detail?: string } = {},
  ) {
    const code = options.timeout === true ? 'ERR_STORE_TIMEOUT' : (options.code ?? 'ERR_STORE')
    const what =
      code === 'ERR_STORE_TIMEOUT' ? `session store ${store} did not answer ${operation} in time` : `session store ${store} failed on ${operation}`
    super(code, options.detail === undefined ? what : `${what}: ${options.detail}`, { cause: options.cause })
    this.store = store
    this.operation = operation
  }
}

/** Session data could not be encoded, or stored bytes could not be decoded. */
export class CodecError extends SessionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CODEC', message, options)
  }
}

/** An encoded session (or a sealed cookie) is over the configured size limit. */
export class TooLargeError extends SessionError {
  /** Encoded size in bytes. */
  readonly size: number
  /** The limit that was exceeded, in bytes. */
  readonly limit: number

  constructor(size: number, limit: number, what = 'encoded session') {
    super('ERR_TOO_LARGE', `${what} is ${size} bytes, over the limit of ${limit}`)
    this.size = size
    this.limit = limit
  }
}

/**
 * A login refused because the user already has `maxSessionsPerUser` sessions (with
 * `onSessionLimit: 'refuse'`). Thrown by `login` when the limit is already reached, or
 * by the commit of the login's session when racing logins took the last places first
 * (then it reaches the error handler; the refused session is deleted). Answer it, e.g.
 * with 409 and "log out on another device first".
 *
 * @example
 * ```ts
 * try { await sessions.login(req, user.id) }
 * catch (err) {
 *   if (err instanceof SessionLimitError) return res.status(409).send('too many sessions')
 *   throw err
 * }
 * ```
 */
export class SessionLimitError extends SessionError {
  /** The user whose login was refused. */
  readonly userId: string
  /** The configured `maxSessionsPerUser`. */
  readonly limit: number

  constructor(userId: string, limit: number) {
    super('ERR_SESSION_LIMIT', `user already has the maximum of ${limit} session${limit === 1 ? '' : 's'}`)
    this.userId = userId
    this.limit = limit
  }
}

/**
 * A value the configured `schema` rejects was put (or computed by `update`): refused
 * at once, nothing changed. Answer it like a validation error (400); `cause` holds
 * the zod error with its issues.
 *
 * @example
 * ```ts
 * try { sessions.put(req, 'cart', body.cart) }
 * catch (err) { if (err instanceof SchemaError) return res.status(400).send(err.message) ; throw err }
 * ```
 */
export class SchemaError extends SessionError {
  /** The session key whose value was refused. */
  readonly key: string

  constructor(key: string, cause: unknown) {
    const issue = (cause as { issues?: Array<{ message?: string; path?: PropertyKey[] }> }).issues?.[0]
    const where = issue?.path !== undefined && issue.path.length > 0 ? ` at ${issue.path.map(String).join('.')}` : ''
    super('ERR_SCHEMA', `session value ${JSON.stringify(key)} does not match the schema${where}: ${issue?.message ?? 'invalid'}`, { cause })
    this.key = key
  }
}

/**
 * Every error session-manager throws or rejects with: one of these classes, each a
 * `SessionError` with a stable `code` (`CsrfError`, `ERR_CSRF`, from lib/csrf.ts, is a
 * `SessionError` too; naming it here would make errors.ts import csrf.ts, a cycle).
 * Narrow on `code` (or `instanceof`).
 *
 * @example
 * ```ts
 * function status(err: SessionManagerError): number { return err.code === 'ERR_CONFIG' ? 500 : 503 }
 * ```
 */
export type SessionManagerError =
  | ConfigError
  | StoreError
  | CodecError
  | TooLargeError
  | SessionLimitError
  | SchemaError
  | SessionError
