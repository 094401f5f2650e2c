/**
 * SessionManager, the library's public face. Over 300 lines because it is one class
 * whose methods are the documented API (DESIGN.md's table), each a few lines of
 * delegation with its TSDoc; the work lives in lifecycle.ts, users.ts, transport.ts
 * and, for Node's http, node/. Splitting the class would split that one table across files.
 */
import { EventEmitter } from 'node:events'
import type { z } from 'zod'
import { MemoryStore } from '../stores/memory.js'
import { MAX_AGE_MS, type ResolvedConfig, resolveConfig, type SessionManagerOptions } from './config.js'
import { ConfigError, SessionError, StoreError } from './errors.js'
import { csrfToken, verifyCsrf } from './csrf.js'
import { Events, sessionId, type SessionManagerEvents } from './events.js'
import { type CommitResult, Lifecycle } from './lifecycle.js'
import { type NodeHandler, type NodeListener, nodeHandler } from './node/serve.js'
import { Session, type SessionState, type SessionStatus, stateOf } from './session.js'
import { canIterate, canWatchExpiry, hasUserIndex, isSealing, isVersioned, type Store, storeName, type WatchExpiryOptions } from './store.js'
import { isToken, TOKEN_LENGTH } from './token.js'
import { readToken, type RequestInfo, type SessionHeaders } from './transport.js'
import { type SessionInfo, Users } from './users.js'

/**
 * What request code hands the manager: Node's `IncomingMessage` / Express `req`,
 * Fastify's `request`, Koa's `ctx`, or a {@link Session} from `load`.
 */
export type SessionContext = object

export type { SessionManagerEvents } from './events.js'

type Key<D> = keyof D & string

/**
 * The session manager: token generation, the load-and-save lifecycle, expiry and key
 * prefixes, over any {@link Store}. One per app (or per prefix).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { SessionManager } from 'session-manager'
 *
 * const sessions = new SessionManager({ lifetime: '24h', idleTimeout: '30m' })
 * createServer(sessions.loadAndSave(async (req, res) => {
 *   const visits = sessions.getNumber(req, 'visits') + 1
 *   sessions.put(req, 'visits', visits)
 *   res.end(`visit ${visits}`)
 * })).listen(3000)
 * ```
 */
export class SessionManager<
  Data extends Record<string, unknown> = Record<string, unknown>,
> extends EventEmitter<SessionManagerEvents> {
  /** The validated, frozen configuration. */
  readonly config: Readonly<ResolvedConfig>
  /** The store in use. */
  readonly store: Store
  readonly #life: Lifecycle
  readonly #users: Users
  readonly #events: Events
  /**
   * Where this manager keeps a request's session: a property under a symbol of its own
   * on each context object. Cheaper than a WeakMap entry per request (which the GC
   * must treat as an ephemeron), and two managers never see each other's sessions.
   */
  readonly #slot: symbol = Symbol('session-manager session')

  /** Validates `options` (throws `ConfigError` naming each bad option). */
  constructor(options: SessionManagerOptions<Data> = {}) {
    super()
    this.config = resolveConfig(options)
    this.store = this.config.store ?? new MemoryStore()
    const logger = this.config.logger
    const store = storeName(this.store)
    this.#events = new Events(this, store, (err) => logger.error('session-manager: an event listener failed', err))
    this.#life = new Lifecycle(this.config, this.store, {
      corrupt: ({ key, error }) => {
        logger.warn('session-manager: undecodable session ignored', error)
        if (this.#events.wants('corrupt')) this.#events.emit('corrupt', { store, id: sessionId(key), error })
      },
      storeError: (err, during) => {
        this.#events.emit('storeError', err)
        logger.warn(
          during === 'load' ? 'session-manager: store failed, serving without a session' : 'session-manager: store failed, session not saved',
          err,
        )
      },
      late: () =>
        logger.warn(
          'session-manager: the session changed after the response started; the change is not saved (change it before writing the response)',
        ),
    }, this.#events)
    if (this.#life.sealing !== undefined && this.config.signingKeys !== undefined) {
      throw new ConfigError('invalid SessionManager options: option signingKeys: not used with a sealing store (the seal already authenticates)')
    }
    if (this.config.maxSessionsPerUser !== undefined) {
      const option = this.config.singleSession ? 'singleSession' : 'maxSessionsPerUser'
      if (!hasUserIndex(this.store)) {
        throw new ConfigError(`invalid SessionManager options: option ${option}: ${this.#life.name} has no user index`)
      }
      if (this.config.onSessionLimit === 'refuse' && !isVersioned(this.store)) {
        throw new ConfigError(`invalid SessionManager options: option onSessionLimit: 'refuse' needs a versioned store; ${this.#life.name} has none`)
      }
    }
    this.#users = new Users(this.#life)
    this.#life.afterSave = (session, key) => this.#users.afterSave(session, key)
    this.#life.afterDestroy = (session, key) => this.#users.onDestroy(session, key)
  }

  /**
   * Sessions held for requests in flight (their entries in the commit chain). Back to 0
   * once every request has ended: a gauge for operators, and how the tests prove that a
   * request end leaves nothing behind.
   */
  get inFlight(): number {
    return this.#life.chain.size
  }

  // ---- values ---------------------------------------------------------------

  /** Set `key` to `value`; the session is committed at the end of the request. */
  put<K extends Key<Data>>(ctx: SessionContext, key: K, value: Data[K]): void {
    this.#state(ctx).put(key, value)
  }

  /**
   * Set `key` to `fn(current)`, now — the new value is returned and seen by the rest
   * of the request — and again at commit onto the value actually stored, whenever a
   * concurrent request committed first (in this process or another). Read-modify-write
   * that loses nothing: a counter, a cart two tabs add to. `fn` must be synchronous and
   * pure: return a new value, never change `current` in place, no side effects (it may
   * run several times). Throws `SchemaError` when the result fails the `schema`.
   *
   * @example
   * ```ts
   * sessions.update(req, 'cart', (cart: string[] = []) => [...cart, item])
   * ```
   */
  update<K extends Key<Data>>(ctx: SessionContext, key: K, fn: (current: Data[K] | undefined) => Data[K]): Data[K] {
    if (typeof fn !== 'function') throw new ConfigError('update: argument fn: expected a function')
    return this.#state(ctx).update(key, fn as (current: unknown) => unknown) as Data[K]
  }

  /**
   * Add `by` (default 1) to the number at `key` (a missing or non-number value counts
   * as 0), as an {@link update}: N concurrent increments end at exactly N more, on
   * every server store. Returns the new value.
   */
  increment(ctx: SessionContext, key: Key<Data>, by = 1): number {
    if (typeof by !== 'number' || !Number.isFinite(by)) {
      throw new ConfigError(`increment: argument by: expected a finite number, got ${describe(by)}`)
    }
    return this.#state(ctx).update(key, (current) => num(current) + by) as number
  }

  /**
   * The value of `key`, or `undefined`. With a zod `schema`, the value parsed by it
   * (`undefined` when missing or not matching).
   */
  get<K extends Key<Data>>(ctx: SessionContext, key: K): Data[K] | undefined
  get<S extends z.ZodType>(ctx: SessionContext, key: string, schema: S): z.output<S> | undefined
  get(ctx: SessionContext, key: string, schema?: z.ZodType): unknown {
    const value = this.#state(ctx).values.get(key)
    if (schema === undefined || value === undefined) return value
    const parsed = schema.safeParse(value)
    return parsed.success ? parsed.data : undefined
  }

  /** The string at `key`, or `''`. */
  getString(ctx: SessionContext, key: Key<Data>): string {
    return str(this.#state(ctx).values.get(key))
  }
  /** The number at `key`, or `0`. */
  getNumber(ctx: SessionContext, key: Key<Data>): number {
    return num(this.#state(ctx).values.get(key))
  }
  /** The boolean at `key`, or `false`. */
  getBoolean(ctx: SessionContext, key: Key<Data>): boolean {
    return bool(this.#state(ctx).values.get(key))
  }
  /** The Date at `key`, or `new Date(0)`. */
  getDate(ctx: SessionContext, key: Key<Data>): Date {
    return date(this.#state(ctx).values.get(key))
  }
  /** The bytes at `key`, or an empty Uint8Array. */
  getBytes(ctx: SessionContext, key: Key<Data>): Uint8Array {
    return bytes(this.#state(ctx).values.get(key))
  }

  /** Get and remove `key` (flash messages). */
  pop<K extends Key<Data>>(ctx: SessionContext, key: K): Data[K] | undefined {
    const session = this.#state(ctx)
    const value = session.values.get(key)
    session.remove(key)
    return value as Data[K] | undefined
  }
  /** `pop` as a string, or `''`. */
  popString(ctx: SessionContext, key: Key<Data>): string {
    return str(this.pop(ctx, key))
  }
  /** `pop` as a number, or `0`. */
  popNumber(ctx: SessionContext, key: Key<Data>): number {
    return num(this.pop(ctx, key))
  }
  /** `pop` as a boolean, or `false`. */
  popBoolean(ctx: SessionContext, key: Key<Data>): boolean {
    return bool(this.pop(ctx, key))
  }
  /** `pop` as a Date, or `new Date(0)`. */
  popDate(ctx: SessionContext, key: Key<Data>): Date {
    return date(this.pop(ctx, key))
  }
  /** `pop` as bytes, or an empty Uint8Array. */
  popBytes(ctx: SessionContext, key: Key<Data>): Uint8Array {
    return bytes(this.pop(ctx, key))
  }

  /** Remove `key` (a no-op, and no commit, when it is absent). */
  remove(ctx: SessionContext, key: Key<Data>): void {
    this.#state(ctx).remove(key)
  }
  /** Remove every value; token and deadline stay. */
  clear(ctx: SessionContext): void {
    this.#state(ctx).clear()
  }
  /** True when `key` is set. */
  exists(ctx: SessionContext, key: Key<Data>): boolean {
    return this.#state(ctx).values.has(key)
  }
  /** Every key, sorted. */
  keys(ctx: SessionContext): string[] {
    return this.#state(ctx).keys()
  }

  // ---- the session itself ----------------------------------------------------

  /** Delete the session from the store now and expire the cookie. A later `put` starts a new session. */
  destroy(ctx: SessionContext): Promise<void> {
    return this.#life.destroy(this.#state(ctx))
  }

  /**
   * Give the session a new token, keeping its data; the old token is deleted at commit.
   * Call it at login and at any privilege change (session fixation defence).
   */
  async renewToken(ctx: SessionContext): Promise<void> {
    this.#life.renew(this.#state(ctx))
  }

  /** Persistent cookie (`true`) or a browser-session cookie (`false`) for this session. */
  rememberMe(ctx: SessionContext, remember: boolean): void {
    this.#state(ctx).setPersist(remember)
  }

  /** `'unmodified'`, `'modified'` or `'destroyed'`. */
  status(ctx: SessionContext): SessionStatus {
    return this.#state(ctx).status
  }

  /** The session token (minted now for a new, modified session); `''` for an untouched new one. */
  token(ctx: SessionContext): string {
    const session = this.#state(ctx)
    if (session.token === undefined && session.status === 'modified') return this.#life.ensureToken(session)
    return session.token ?? ''
  }

  /** The absolute deadline. */
  deadline(ctx: SessionContext): Date {
    return new Date(this.#state(ctx).deadline)
  }

  /**
   * Move the absolute deadline (may be earlier or later than the lifetime gives).
   * Throws `ConfigError` (`ERR_CONFIG`) at once, leaving the session as it was, for
   * anything but a valid Date from the epoch to now + 2^31 - 1 seconds (the largest Max-Age).
   */
  setDeadline(ctx: SessionContext, deadline: Date): void {
    const ms = deadline instanceof Date ? deadline.getTime() : Number.NaN
    const max = this.config.now() + MAX_AGE_MS
    if (!Number.isFinite(ms) || ms < 0 || ms > max) {
      throw new ConfigError(
        `setDeadline: argument deadline: expected a valid Date from 1970-01-01 to ${new Date(max).toISOString()}, got ${describe(deadline)}`,
      )
    }
    this.#state(ctx).setDeadline(ms)
  }

  /**
   * The session's CSRF token: made and stored on first use, new after `renewToken`
   * or `login` (lib/csrf.ts). Put it in forms (`_csrf`) or an `x-csrf-token` header.
   */
  csrfToken(ctx: SessionContext): string {
    return csrfToken(this.#state(ctx), () => this.token(ctx), isSealing(this.store))
  }

  /** True when `token` is the session's current CSRF token (constant-time compare). */
  verifyCsrf(ctx: SessionContext, token: unknown): boolean {
    return verifyCsrf(this.#state(ctx), token, isSealing(this.store))
  }

  // ---- lifecycle without HTTP -----------------------------------------------

  /**
   * Load the session of `token` (websockets, jobs). Missing, expired or malformed:
   * a new empty session. Pass the result as `ctx` to any method, then `commit` it.
   */
  async load(token: string | undefined): Promise<Session> {
    return (await this.#life.load(token)).session
  }

  /** Save a session according to its status; say what the response must do. */
  commit(session: Session): Promise<CommitResult> {
    return this.#life.commit(stateOf(session))
  }

  /**
   * Pull the values of the session of `token` into this one (theirs win on equal keys,
   * the later deadline is kept), then delete that session.
   */
  async mergeSession(ctx: SessionContext, token: string): Promise<void> {
    const session = this.#state(ctx)
    if (!isToken(token) || token === session.token) return
    const other = await this.#life.load(token)
    this.#life.release(other)
    if (other.isNew) return
    for (const key of other.keys()) session.put(key, other.values.get(key))
    if (other.deadline > session.deadline) session.setDeadline(other.deadline)
    await this.#life.remove(other.storeKey as string)
    if (this.#events.wants('destroyed')) this.#events.emit('destroyed', { store: this.#life.name, id: sessionId(other.storeKey as string), userId: other.user, reason: 'merge' })
  }

  /**
   * Call `fn` for every live session of this manager's prefix; a session `fn` changes
   * is committed, one `fn` destroys is deleted.
   */
  async iterate(fn: (session: Session) => void | Promise<void>): Promise<void> {
    const store = this.store
    if (!canIterate(store)) {
      throw new SessionError('ERR_UNSUPPORTED', `${this.#life.name} cannot list its sessions (no all())`)
    }
    const prefix = this.config.prefix
    for await (const [key] of store.all(prefix)) {
      // Only session keys (prefix + token or hash); user-info cache entries are not sessions.
      if (key.length !== prefix.length + TOKEN_LENGTH || key.includes(':', prefix.length)) continue
      const session = await this.#life.loadKey(key)
      if (session.isNew) continue
      if (!this.config.hashTokenInStore) session.token = key.slice(this.config.prefix.length)
      await fn(session.session)
      await this.#life.commit(session)
    }
  }

  /**
   * Emit `expired` (`source: 'store'`) for sessions of this manager's prefix that the
   * store expires while nobody requests them. Needs a store with `watchExpiry` (Redis, etcd);
   * resolves to the function that stops watching. Throws `ERR_UNSUPPORTED` otherwise.
   * `configure: true` lets the store set the server settings it needs (Redis:
   * `notify-keyspace-events`); failures of the watch are logged through `logger.warn`.
   */
  async watchExpiry(options: Pick<WatchExpiryOptions, 'configure'> = {}): Promise<() => Promise<void>> {
    const store = this.store
    if (!canWatchExpiry(store)) throw new SessionError('ERR_UNSUPPORTED', `${this.#life.name} cannot report expiry (no watchExpiry())`)
    const prefix = this.config.prefix
    const name = this.#life.name
    return store.watchExpiry(prefix, (key) => {
      // Session keys only: user indexes and the user-info cache expire too.
      if (key.length !== prefix.length + TOKEN_LENGTH || key.includes(':', prefix.length)) return
      if (this.#events.wants('expired')) this.#events.emit('expired', { store: name, id: sessionId(key), source: 'store' })
    }, { configure: options.configure === true, onError: (err) => this.config.logger.warn('session-manager: expiry watch failed', err) })
  }

  // ---- users -------------------------------------------------------------------

  /**
   * Log a user in: renew the token (fixation defence), bind the session to `userId`
   * and add it to the user's index at commit. `meta` (user agent, IP, …) is listed
   * by `sessionsOf`. With `maxSessionsPerUser` (or `singleSession`), the user's oldest
   * sessions are evicted at commit, or with `onSessionLimit: 'refuse'` the login is
   * refused: this throws `SessionLimitError` when the places are already taken (and
   * the commit does, when racing logins took them meanwhile).
   *
   * @example
   * ```ts
   * await sessions.login(req, user.id, { userAgent: req.headers['user-agent'] })
   * ```
   */
  async login(ctx: SessionContext, userId: string, meta: Record<string, unknown> = {}): Promise<void> {
    if (typeof userId !== 'string' || userId === '') {
      throw new ConfigError('login: argument userId: expected a non-empty string')
    }
    const session = this.#state(ctx)
    await this.#users.admissions.check(userId, session.storeKey)
    this.#life.renew(session)
    session.setUser(userId, meta, this.config.now())
  }

  /** The user id bound by `login`, or undefined. */
  userId(ctx: SessionContext): string | undefined {
    return this.#state(ctx).user
  }

  /** Opaque id of this request's session as `sessionsOf` lists it ('' for a new one). */
  sessionId(ctx: SessionContext): string {
    const key = this.#state(ctx).storeKey
    return key === undefined ? '' : this.#users.sessionId(key)
  }

  /** The user's live sessions (id, times, login metadata) — never their tokens. */
  sessionsOf(userId: string): Promise<SessionInfo[]> {
    return this.#users.sessionsOf(userId)
  }

  /**
   * Log a user out everywhere: delete every session of theirs, except the one of
   * `options.except` (a request or session) when given. Resolves to the number deleted.
   */
  revokeUser(userId: string, options: { except?: SessionContext } = {}): Promise<number> {
    const keep = options.except === undefined ? undefined : this.#state(options.except).storeKey
    return this.#users.revoke(userId, (key) => key !== keep, 'revokeUser')
  }

  /** End one listed session of a user; resolves to whether it existed. */
  async revokeSession(userId: string, sessionId: string): Promise<boolean> {
    return (await this.#users.revoke(userId, (key) => this.#users.sessionId(key) === sessionId, 'revokeSession')) > 0
  }

  /** The logged-in user's info from `loadUser`, cached next to the sessions for `userCacheTtl`. */
  user<T = unknown>(ctx: SessionContext): Promise<T | undefined> {
    return this.#users.info(this.#state(ctx)) as Promise<T | undefined>
  }

  /** Reload and re-cache the info of these users now (e.g. after a profile change). */
  async refreshUser(userIds: string | string[]): Promise<void> {
    for (const id of Array.isArray(userIds) ? userIds : [userIds]) await this.#users.refresh(id)
  }

  /** Drop a user's cached info; the next `user(ctx)` loads it again. */
  forgetUser(userId: string): Promise<void> {
    return this.#users.forget(userId)
  }

  // ---- HTTP -------------------------------------------------------------------

  /**
   * Wrap a Node http handler: load the session before it, commit before the response
   * leaves (Set-Cookie on that response). Store failures go to `errorHandler`.
   */
  loadAndSave(handler: NodeHandler): NodeListener {
    return nodeHandler(this, handler)
  }

  /**
   * For adapters — the request start: load the request's session and bind it to each of
   * `contexts` (the objects request code will pass). Store failures throw (or reject),
   * unless `onStoreError` is `'anonymous'`, in which case the request gets a session
   * that is never saved. A request without a (well-formed) token has nothing to load:
   * its new, empty session comes back synchronously, so an adapter can go on in the
   * same tick. Every attached session must reach {@link SessionManager.end}.
   */
  attach(contexts: object | object[], req: RequestInfo): Session | Promise<Session> {
    const found = readToken(req, this.config, this.#fromWire)
    if (found === undefined) {
      const session = this.#life.fresh()
      session.request = req
      return this.#bindAll(contexts, session)
    }
    return this.#attachStored(contexts, found, req)
  }

  /**
   * For adapters — the request end, the one call every adapter makes for every request
   * it attached (a second call is a no-op): read-only, modified, destroyed, failed or
   * abandoned alike. Synchronous and free when there is nothing to do (an empty list);
   * otherwise it commits and resolves to the headers the response must carry (merge
   * them with `mergeSessionHeaders`). It always releases what the request held.
   * `failed`: the request failed or was abandoned — nothing is committed.
   */
  end(session: Session, failed = false): SessionHeaders | Promise<SessionHeaders> {
    return this.#life.end(stateOf(session), failed)
  }

  /** A cookie or header value: the token in it, and the value as sent. */
  readonly #fromWire = (wire: string): { token: string; wire: string } | undefined => {
    const token = this.#life.fromWire(wire)
    return token === undefined ? undefined : { token, wire }
  }

  #attachStored(contexts: object | object[], found: { token: string; wire: string }, req: RequestInfo): Promise<Session> {
    return this.#life.load(found.token, found.wire, req).then(
      (session) => this.#bindAll(contexts, session),
      (err: unknown) => {
        if (this.config.onStoreError !== 'anonymous' || !(err instanceof StoreError)) throw err
        this.#life.events.storeError(err, 'load')
        const session = this.#life.fresh()
        session.request = req
        session.degraded = true
        return this.#bindAll(contexts, session)
      },
    )
  }

  #bindAll(contexts: object | object[], session: SessionState): Session {
    if (Array.isArray(contexts)) for (const ctx of contexts) this.#bind(ctx, session)
    else this.#bind(contexts, session)
    return session.session
  }

  #bind(ctx: object, session: SessionState): void {
    // Symbol keys stay out of Object.keys, JSON and for…in: request objects look unchanged.
    ;(ctx as { [k: symbol]: SessionState })[this.#slot] = session
  }

  #boundTo(ctx: object): SessionState | undefined {
    return (ctx as { [k: symbol]: SessionState | undefined })[this.#slot]
  }

  /** The session bound to `ctx`, or undefined when no middleware loaded one. */
  peek(ctx: SessionContext): Session | undefined {
    return ctx instanceof Session ? ctx : this.#boundTo(ctx)?.session
  }

  /** The session bound to `ctx`; throws `ERR_NO_SESSION` when no middleware loaded one. */
  session(ctx: SessionContext): Session {
    return this.#state(ctx).session
  }

  #state(ctx: SessionContext): SessionState {
    if (ctx instanceof Session) return stateOf(ctx)
    const session = this.#boundTo(ctx)
    if (session === undefined) {
      throw new SessionError('ERR_NO_SESSION', 'no session is loaded for this request: is the session middleware installed before this route?')
    }
    return session
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : '')
const num = (v: unknown) => (typeof v === 'number' ? v : 0)
const bool = (v: unknown) => (typeof v === 'boolean' ? v : false)
const date = (v: unknown) => (v instanceof Date ? v : new Date(0))
const bytes = (v: unknown) => (v instanceof Uint8Array ? v : new Uint8Array(0))

/** A short description of a bad argument for an error message. */
function describe(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()
  return typeof value === 'object' ? String(value) : JSON.stringify(value) ?? String(value)
}
