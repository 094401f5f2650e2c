/**
 * The load-and-save lifecycle: load, the request end, commit (versioned, with rebase
 * and retries), touch, seal, renew, destroy. Over 300 lines because these share one
 * state machine and the store-call plumbing (timeouts, error wrapping, the commit
 * chain); the codec, the chain, the deadlines, the transport and the user index are
 * their own modules.
 */
import { CommitChain } from './chain.js'
import type { SessionRecord } from './codec.js'
import { Commits, FORWARD_MS, rebaseOnto } from './commit.js'
import type { ResolvedConfig } from './config.js'
import { Deadlines } from './deadline.js'
import { CodecError, SessionError, StoreError, TooLargeError } from './errors.js'
import { type CommitContext, commitChannel, type Events, sessionId, type StoreCallContext, storeChannel, traceCommit, traced } from './events.js'
import { schemaGuard, type ValueGuard } from './schema-guard.js'
import { copyValues, NO_VALUES, SessionState } from './session.js'
import { Signer } from './signing.js'
import { canTouch, isSealing, isVersioned, type SealingStore, type Store, storeName } from './store.js'
import { generateToken, hashToken, isToken } from './token.js'
import { type CommitResult, NO_HEADERS, type RequestInfo, type SessionHeaders, sessionHeaders } from './transport.js'

export type { CommitResult }

/** What the lifecycle reports of undecodable stored bytes (the manager turns it into a `corrupt` event). */
export interface CorruptReport {
  key: string
  error: unknown
}

/** What the lifecycle tells the manager about (it turns them into events and logs). */
export interface LifecycleEvents {
  /** Stored data could not be decoded. */
  corrupt(event: CorruptReport): void
  /** A store failure was absorbed (`onStoreError: 'anonymous'`). */
  storeError(err: StoreError, during: 'load' | 'commit'): void
  /** A change came after the request ended: it cannot be saved. */
  late(): void
}

/** Longest sealed cookie value accepted or produced (name=value stays under 4 KB). */
const SEALED_LIMIT = 4000
const SEALED_SHAPE = /^[A-Za-z0-9_.-]+$/

/** Idle expiry is extended once it has fallen this fraction of `idleTimeout` behind. */
const TOUCH_FRACTION = 0.1

/**
 * The load-and-save lifecycle: everything that talks to the store. Internal; the
 * manager is the public face.
 */
export class Lifecycle {
  readonly chain = new CommitChain()
  readonly name: string
  /** Runs after every successful save (the user index hooks in here). */
  afterSave: ((session: SessionState, key: string) => Promise<void> | undefined) | undefined
  /** Runs after a stored session was deleted by `destroy` (the user index hooks in here). */
  afterDestroy: ((session: SessionState, key: string) => Promise<void>) | undefined
  /** Set when tokens are signed in transit. */
  readonly signer: Signer | undefined
  /** Set when the store seals sessions into the cookie. */
  readonly sealing: SealingStore | undefined
  readonly #deadlines: Deadlines
  /** The versioned write path (undefined for a store without versions). */
  readonly #commits: Commits | undefined
  /** Checks each value put against the configured schema (undefined without one). */
  readonly #guard: ValueGuard | undefined

  constructor(
    readonly config: Readonly<ResolvedConfig>,
    readonly store: Store,
    readonly events: LifecycleEvents,
    /** The manager's public events and diagnostics channels. */
    readonly bus: Events,
  ) {
    this.name = storeName(store)
    this.signer = config.signingKeys === undefined ? undefined : new Signer(config.signingKeys)
    this.sealing = isSealing(store) ? store : undefined
    this.#deadlines = new Deadlines(config.storeTimeout)
    this.#commits = isVersioned(store) ? new Commits(this, store) : undefined
    this.#guard = config.schema === undefined ? undefined : schemaGuard(config.schema)
  }

  /** A session state for `record`, guarded by the schema when there is one. */
  #state(record: SessionRecord): SessionState {
    const session = new SessionState(record)
    session.guard = this.#guard
    return session
  }

  /** The token inside a cookie or header value, or undefined (no store call is ever made for junk). */
  fromWire(value: string): string | undefined {
    if (this.sealing !== undefined) {
      return value.length <= SEALED_LIMIT && SEALED_SHAPE.test(value) ? value : undefined
    }
    const token = this.signer === undefined ? value : this.signer.verify(value)
    return isToken(token) ? token : undefined
  }

  readonly #toWire = (token: string): string => this.toWire(token)

  /** What travels in the cookie or header for `token`. */
  toWire(token: string): string {
    return this.signer === undefined ? token : this.signer.sign(token)
  }

  /** The store key of `token`. */
  keyOf(token: string): string {
    return this.config.prefix + (this.config.hashTokenInStore ? hashToken(token) : token)
  }

  /** A fresh, empty, uncommitted session. */
  fresh(): SessionState {
    const now = this.config.now()
    const deadline = now + this.config.lifetime
    return this.#state({ created: now, deadline, expiry: this.expiryAt(now, deadline), values: NO_VALUES as Map<string, unknown> })
  }

  /**
   * Load the session of `token`. A malformed token, a missing, expired or corrupt
   * session: a fresh one (malformed tokens cost no store call). Store failures throw.
   * `wire` is the cookie or header value the token came in, when it came over HTTP:
   * a commit then sends nothing the client already holds.
   *
   * A plain promise chain with one step, not async functions nested three deep
   * (load, token, key): those were 1.2 KB of a read's 13.1 KB.
   */
  load(token: string | undefined, wire?: string, request?: RequestInfo): Promise<SessionState> {
    if (this.sealing !== undefined) return this.#open(token).then((session) => this.#requested(session, wire, request))
    if (!isToken(token)) return Promise.resolve(this.#requested(this.fresh(), wire, request))
    const key = this.keyOf(token)
    const loadedAt = this.chain.seq
    return this.#find(key).then(
      (entry) => {
        const session = this.#loaded(key, entry, loadedAt)
        if (!session.isNew) session.token = token
        return this.#requested(session, wire, request)
      },
      (err: unknown) => this.#unheld(key, err),
    )
  }

  #requested(session: SessionState, wire: string | undefined, request: RequestInfo | undefined): SessionState {
    session.request = request
    if (!session.isNew && wire !== undefined) session.held = { wire, expires: this.#cookieExpiry(session) }
    return session
  }

  /** Load by store key (for `iterate` and `mergeSession`). */
  loadKey(key: string): Promise<SessionState> {
    const loadedAt = this.chain.seq
    return this.#find(key).then((entry) => this.#loaded(key, entry, loadedAt), (err: unknown) => this.#unheld(key, err))
  }

  /** Hold `key` in the commit chain and read it (its failure: {@link #unheld}). */
  #find(key: string): Promise<{ data: Uint8Array; version?: string; expiry?: Date } | undefined> {
    this.chain.hold(key)
    try {
      return isVersioned(this.store)
        ? this.call('find', this.store.findVersioned(key))
        : this.call('find', this.store.find(key)).then((data) => data && { data })
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** A failed read lets go of its key. */
  #unheld(key: string, err: unknown): never {
    this.chain.release(key)
    throw err
  }

  /** The session a read of `key` found (read when the chain was at `loadedAt`). */
  #loaded(key: string, entry: { data: Uint8Array; version?: string; expiry?: Date } | undefined, loadedAt: number): SessionState {
    const record = entry && this.decode(key, entry.data)
    const now = this.config.now()
    const expiry = entry?.expiry?.getTime() ?? (canTouch(this.store) ? undefined : record?.expiry)
    if (record === undefined || !live(record, expiry, now)) {
      this.chain.release(key)
      // A renewed session's old key is not an expiry: its session lives on under the new one.
      if (record?.forward === undefined && this.bus.wants('expired')) this.bus.emit('expired', { store: this.name, id: sessionId(key), source: 'load' })
      return this.fresh()
    }
    const session = this.#state(record)
    // A loaded session has been stored: only one never committed is `created` at commit.
    session.seen ??= record.created
    session.storeKey = key
    session.heldKey = key
    session.version = entry?.version
    session.loadedAt = loadedAt
    if (expiry !== undefined) session.expiry = expiry
    return session
  }

  /** Load from a sealed cookie: the seal checks tamper and key; the record, expiry. */
  async #open(value: string | undefined): Promise<SessionState> {
    if (value === undefined || this.fromWire(value) === undefined) return this.fresh()
    const data = await this.call('open', (this.sealing as SealingStore).open(value))
    const record = data && this.decode('(sealed cookie)', data)
    const now = this.config.now()
    if (record === undefined || record.deadline <= now || record.expiry <= now) {
      if (record !== undefined && this.bus.wants('expired')) this.bus.emit('expired', { store: this.name, id: sessionId(value), source: 'load' })
      return this.fresh()
    }
    const session = this.#state(record)
    session.seen ??= record.created
    session.token = value
    session.storeKey = value
    return session
  }

  /** Seal a modified session into its new cookie value. */
  async #seal(session: SessionState, sealing: SealingStore): Promise<CommitResult> {
    const now = this.config.now()
    const expiry = this.expiryAt(now, session.deadline)
    const record = session.toRecord(expiry, now)
    const stats = this.#stats(session)
    const sealed = await this.call('commit', sealing.seal(this.encode(record), new Date(expiry)))
    stats.attempts = 1
    session.seen = now
    const size = this.config.cookie.name.length + 1 + sealed.length
    if (size > SEALED_LIMIT) throw new TooLargeError(size, SEALED_LIMIT, 'sealed session cookie')
    session.token = sealed
    session.storeKey = sealed
    session.expiry = expiry
    this.#report(session, sealed, stats, undefined)
    const indexed = this.afterSave?.(session, sealed)
    if (indexed !== undefined) await indexed
    return this.#result(session, sealed)
  }

  /** Decode stored bytes; undefined (and reported) when they are not a valid session. */
  decode(key: string, data: Uint8Array): SessionRecord | undefined {
    try {
      const record = this.config.codec.decode(data)
      if (this.config.schema !== undefined) {
        const check = this.config.schema.safeParse(Object.fromEntries(record.values))
        if (!check.success) throw new CodecError('stored session does not match the schema', { cause: check.error })
      }
      return record
    } catch (error) {
      this.events.corrupt({ key, error })
      return undefined
    }
  }

  /**
   * The token of a session, minted on first need for a new one. A session reached by
   * store key alone (`iterate` with hashed keys) has no token to tell: `''`.
   */
  ensureToken(session: SessionState): string {
    if (session.storeKey === undefined && this.sealing === undefined) {
      session.token = generateToken()
      // Nobody else can know a key minted now: it needs no place in the commit chain.
      session.storeKey = this.keyOf(session.token)
    }
    return session.token ?? ''
  }

  /** Persist `session` according to its status; say what the response must do. */
  async commit(session: SessionState): Promise<CommitResult> {
    try {
      if (session.degraded) return { action: 'none' }
      if (session.readOnly) {
        if (session.status !== 'unmodified') {
          this.config.logger.warn('session-manager: a change through a renewed (grace) token was not saved')
        }
        return { action: 'none' }
      }
      switch (session.status) {
        case 'destroyed':
          return { action: 'expire' }
        case 'modified':
          return await this.#save(session)
        case 'unmodified':
          return await this.#extend(session)
      }
    } finally {
      this.release(session)
    }
  }

  /**
   * The request end: the one call every adapter makes for every request, exactly once
   * (a second call is a no-op). Free and synchronous when there is nothing to do (no
   * headers); else it commits and resolves to the headers the response must carry.
   * Either way it releases everything the request held. `failed`: the request failed
   * (or was abandoned): nothing is committed.
   */
  end(session: SessionState, failed = false): SessionHeaders | Promise<SessionHeaders> {
    if (session.ended) return NO_HEADERS
    session.ended = true
    session.late = this.events.late
    if (failed || session.degraded || (session.status === 'unmodified' && this.#touchTarget(session) === undefined)) {
      this.release(session)
      return NO_HEADERS
    }
    return this.#endWithCommit(session)
  }

  #endWithCommit(session: SessionState): Promise<SessionHeaders> {
    return this.commit(session).then(
      (result) => sessionHeaders(result, this.config, session.request, this.#toWire),
      (err: unknown) => {
        if (this.config.onStoreError !== 'anonymous' || !(err instanceof StoreError)) throw err
        this.events.storeError(err, 'commit')
        return NO_HEADERS
      },
    )
  }

  /**
   * Give the session a new token, keeping its data; the old key is deleted once the
   * renewed session is committed (or kept read-only for `renewGrace`).
   */
  renew(session: SessionState): void {
    if (!session.isNew && session.renewedFrom === undefined) {
      session.renewedFrom = session.storeKey
      // Before any login binds a user: a grace copy must not grant more than the old token had.
      const now = this.config.now()
      const state = session.toRecord(session.expiry, now)
      session.renewedState = { ...state, values: new Map(state.values) }
      session.renewedVersion = session.version
      session.renewedAt = session.loadedAt
      // Where the forward will live, and how long (commit.ts writes it with this expiry).
      if (this.#commits !== undefined) {
        session.previous = { key: session.storeKey as string, until: now + Math.max(this.config.renewGrace ?? 0, FORWARD_MS) }
      }
    }
    session.token = undefined
    session.storeKey = undefined
    session.version = undefined
    session.held = undefined
    this.ensureToken(session)
    session.touchStatus()
  }

  /** Delete the stored session now; the request then expires the cookie. A later put starts afresh. */
  async destroy(session: SessionState): Promise<void> {
    // A forward at the key a renewal left (it lives a minute) goes with the session.
    const previous = session.previous !== undefined && session.previous.until > this.config.now() ? session.previous.key : undefined
    const keys = [session.storeKey, session.renewedFrom, previous].filter((k, i, all): k is string => k !== undefined && all.indexOf(k) === i)
    const user = session.loadedUser ?? session.user
    for (const key of keys) {
      await this.remove(key)
      if (this.afterDestroy !== undefined) await this.afterDestroy(session, key)
    }
    if (keys[0] !== undefined && this.bus.wants('destroyed')) this.bus.emit('destroyed', { store: this.name, id: sessionId(keys[0]), userId: user, reason: 'destroy' })
    const now = this.config.now()
    session.reset(now, this.config.lifetime, this.expiryAt(now, now + this.config.lifetime))
  }

  /** Let go of the key a session was loaded under (held in the commit chain since its load). */
  release(session: SessionState): void {
    if (session.released) return
    session.released = true
    if (session.heldKey !== undefined) this.chain.release(session.heldKey)
  }

  /** Delete a stored session now. */
  async remove(key: string): Promise<void> {
    // A sealed cookie has nothing server-side to delete; expiring the cookie is all.
    if (this.sealing !== undefined) return
    await this.chain.run(key, async () => {
      await this.call('delete', this.store.delete(key))
      this.chain.settle(key, undefined, null)
    })
  }

  /**
   * Run a store call with the configured timeout, failures wrapped in StoreError;
   * inside the `session-manager:store` tracing channel when it has subscribers.
   */
  call<T>(operation: string, pending: Promise<T>, attempts = 1): Promise<T> {
    if (!traced(storeChannel)) return this.#call(operation, pending)
    const ctx: StoreCallContext = { store: this.name, operation, attempts }
    return storeChannel.tracePromise(() => this.#call(operation, pending).then(
      (result) => {
        ctx.outcome = result === undefined ? 'miss' : result === null ? 'conflict' : 'ok'
        return result
      },
      (err: unknown) => {
        ctx.outcome = (err as SessionError).code === 'ERR_STORE_TIMEOUT' ? 'timeout' : 'error'
        throw err
      },
    ), ctx)
  }

  #call<T>(operation: string, pending: Promise<T>): Promise<T> {
    return this.#deadlines.race(pending, this.#timedOut, operation, this.#failed)
  }

  /** A store call's timeout and failure, made once (see Deadlines.race). */
  readonly #timedOut = (operation: string): StoreError => new StoreError(this.name, operation, { timeout: true })
  readonly #failed = (err: unknown, operation: string): unknown =>
    err instanceof SessionError ? err : new StoreError(this.name, operation, { cause: err })

  /** The expiry a record written now carries: idle timeout, capped by the deadline. */
  expiryAt(now: number, deadline: number): number {
    const idle = this.config.idleTimeout
    return idle === undefined ? deadline : Math.min(now + idle, deadline)
  }

  /** The expiry a persistent cookie of `session` carries; undefined for a browser-session cookie. */
  #cookieExpiry(session: SessionState): number | undefined {
    return (session.persist ?? this.config.cookie.persist) ? session.expiry : undefined
  }

  #result(session: SessionState, token: string): CommitResult {
    const expires = this.#cookieExpiry(session)
    // The client holds exactly this cookie already: resending it would only cost bytes.
    const held = session.held
    if (held !== undefined && held.expires === expires && held.wire === this.toWire(token)) return { action: 'none' }
    return { action: 'set', token, expires: expires === undefined ? undefined : new Date(expires) }
  }

  #touchTarget(session: SessionState): number | undefined {
    const idle = this.config.idleTimeout
    if (idle === undefined || session.isNew || session.token === undefined) return undefined
    const target = this.expiryAt(this.config.now(), session.deadline)
    return target - session.expiry >= idle * TOUCH_FRACTION ? target : undefined
  }

  async #extend(session: SessionState): Promise<CommitResult> {
    const target = this.#touchTarget(session)
    if (target === undefined || session.token === undefined) return { action: 'none' }
    if (!canTouch(this.store)) return this.#save(session)
    const key = session.storeKey as string
    await this.call('touch', this.store.touch(key, new Date(target)))
    session.expiry = target
    const result = this.#result(session, session.token)
    // A browser-session cookie has no expiry to move: no header needed.
    return result.expires === undefined ? { action: 'none' } : result
  }

  async #save(session: SessionState): Promise<CommitResult> {
    if (this.sealing !== undefined) return this.#seal(session, this.sealing)
    const token = this.ensureToken(session)
    const key = session.storeKey as string
    const stats = this.#stats(session)
    const tracing = traced(commitChannel)
    if (tracing) stats.id = sessionId(key)
    const old = session.renewedFrom
    const commits = this.#commits
    const outcome = commits === undefined
      ? await this.chain.run(key, () => traceCommit(stats, () => this.#writeUnversioned(session, key, stats)))
      : await (tracing ? traceCommit(stats, () => commits.save(session, stats)) : commits.save(session, stats))
    // Destroyed elsewhere while this request ran: it stays so. Followed a parallel
    // renewal: saved under the renewed key, whose cookie that request sends. Either
    // way the cookie is left alone: the browser may already hold a newer one.
    if (outcome === 'gone') return { action: 'none' }
    const saved = session.storeKey as string
    if (old !== undefined && commits === undefined) {
      const grace = this.config.renewGrace
      if (grace === undefined) await this.remove(old)
      else await this.#graceCopy(session, old, grace)
    }
    this.#report(session, saved, stats, outcome === 'saved' ? old : undefined)
    // Awaited only when there is index work: an await of nothing still costs a promise.
    const indexed = this.afterSave?.(session, saved)
    if (indexed !== undefined) await indexed
    return outcome === 'saved' ? this.#result(session, token) : { action: 'none' }
  }

  /** Leave the old key readable, never writable, for `grace` ms (a store without versions; see commit.ts otherwise). */
  async #graceCopy(session: SessionState, key: string, grace: number): Promise<void> {
    const now = this.config.now()
    const expiry = Math.min(now + grace, session.deadline)
    const record = { ...(session.renewedState ?? session.toRecord(expiry, now)), expiry, readOnly: true }
    await this.chain.run(key, async () => {
      await this.call('commit', this.store.commit(key, this.encode(record), new Date(expiry)))
      this.chain.settle(key, undefined, record)
    })
  }

  /** A store without versions: rebased onto this process's newer commits, then last write wins. */
  async #writeUnversioned(session: SessionState, key: string, stats: CommitContext): Promise<'saved' | 'gone'> {
    stats.attempts = 1
    const newer = this.chain.newer(key, session.loadedAt)
    if (newer !== undefined) {
      if (newer.record === null || newer.record.readOnly === true) return 'gone'
      rebaseOnto(this, session, newer.record, key, stats, 'rebase')
      session.loadedAt = newer.seq
    }
    const now = this.config.now()
    const expiry = this.expiryAt(now, session.deadline)
    const record = session.toRecord(expiry, now)
    await this.call('commit', this.store.commit(key, this.encode(record), new Date(expiry)))
    this.saved(session, key, undefined, record)
    return 'saved'
  }

  /** Per-commit bookkeeping for the events and the commit tracing channel. */
  #stats(session: SessionState): CommitContext {
    const created = session.seen === undefined && session.renewedFrom === undefined
    return { store: this.name, id: '', created, attempts: 0, conflicts: 0, rebased: false }
  }

  /** After a successful save: `committed`, and `created`, `renewed`, `loggedIn` as they apply. */
  #report(session: SessionState, key: string, stats: CommitContext, old: string | undefined): void {
    const ev = this.bus
    const id = () => (stats.id === '' ? (stats.id = sessionId(key)) : stats.id)
    if (ev.wants('committed')) {
      ev.emit('committed', { store: this.name, id: id(), created: stats.created, attempts: stats.attempts, conflicts: stats.conflicts, rebased: stats.rebased })
    }
    if (stats.created && ev.wants('created')) ev.emit('created', { store: this.name, id: id(), userId: session.user })
    if (old !== undefined && ev.wants('renewed')) {
      ev.emit('renewed', { store: this.name, id: id(), previousId: sessionId(old), userId: session.user })
    }
    if (session.user !== undefined && session.userChanged && ev.wants('loggedIn')) {
      ev.emit('loggedIn', { store: this.name, id: id(), userId: session.user })
    }
  }

  /** After a successful write: the session's new version and expiry, remembered in the commit chain. */
  saved(session: SessionState, key: string, version: string | undefined, record: SessionRecord): void {
    session.version = version
    session.seen = record.seen
    session.expiry = record.expiry
    this.chain.settle(key, version, { ...record, values: copyValues(record.values) })
  }

  /** Encode a record (CodecError on values the codec cannot take; TooLargeError over `maxSize`). */
  encode(record: SessionRecord): Uint8Array {
    let data: Uint8Array
    try {
      data = this.config.codec.encode(record)
    } catch (cause) {
      throw cause instanceof CodecError ? cause : new CodecError('session could not be encoded', { cause })
    }
    const limit = this.config.maxSize
    if (limit !== undefined && data.length > limit) throw new TooLargeError(data.length, limit)
    return data
  }
}

/**
 * True while a loaded record is a live session at `now`: before its deadline and its
 * expiry (the store's, when it reports one). A renewed session's forward is no
 * session once its `renewGrace` read-only window is over, whatever the store keeps.
 */
export function live(record: SessionRecord, expiry: number | undefined, now: number): boolean {
  if (record.deadline <= now || (expiry !== undefined && expiry <= now)) return false
  return record.forward === undefined || record.expiry > now
}
