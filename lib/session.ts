/**
 * One session within one request: `Session`, the public face handed to request code,
 * and `SessionState`, its values, change log and the lifecycle's bookkeeping. Over 300
 * lines because the two are one concept split only to keep the bookkeeping private;
 * the change log and its replay (`rebase`) must sit beside the mutators that record it.
 */
import { isDeepStrictEqual } from 'node:util'
import type { SessionRecord } from './codec.js'
import type { RequestInfo } from './transport.js'

/**
 * What the end of a request does with a session: nothing, commit it, or expire the
 * cookie. Set by the mutators, never guessed by comparing data.
 */
export type SessionStatus = 'unmodified' | 'modified' | 'destroyed'

/** One recorded change, replayed onto fresher data when a versioned commit conflicts. */
export type Change =
  | { op: 'put'; key: string; value: unknown }
  | { op: 'update'; key: string; fn: (current: unknown) => unknown }
  | { op: 'remove'; key: string }
  | { op: 'clear' }
  | { op: 'deadline'; value: number }
  | { op: 'persist'; value: boolean }
  | { op: 'user'; value: string | undefined; meta?: Record<string, unknown> | undefined; login?: number | undefined }

/**
 * The values of a session that has none yet, shared by every fresh session and never
 * changed: the first change copies it away (`#own`), as it copies a loaded session's.
 * An anonymous request allocated a Map it never used (0.2 KB of its 8.1 KB).
 */
export const NO_VALUES: ReadonlyMap<string, unknown> = new Map()

/**
 * A copy of a values map. A loop, not `new Map(values)`: the constructor walks its
 * argument through the generic iterator protocol, 370 bytes for a one-value map
 * where the loop takes 250 (twice per write request: the first change, the commit).
 */
export function copyValues(values: ReadonlyMap<string, unknown>): Map<string, unknown> {
  const copy = new Map<string, unknown>()
  for (const [key, value] of values) copy.set(key, value)
  return copy
}

/** @internal The state behind a {@link Session}: owned by the lifecycle, never exported by the package. */
// Assigned in Session's static block: the one way into its private state.
// eslint-disable-next-line prefer-const
export let stateOf: (session: Session) => SessionState

/**
 * One session for the length of a request (or of a `load`…`commit` span). Usually
 * reached through the manager (`manager.put(ctx, …)`); `manager.load(token)` hands one
 * out directly, and every manager method accepts it as its `ctx`.
 *
 * Only the documented surface is public; the bookkeeping (token, store key, version,
 * held cookie, renewal, flags) is private to the library.
 */
export class Session {
  readonly #state: SessionState

  /** @internal Sessions are made by the manager (`load`, or an adapter's request start). */
  constructor(state: SessionState) {
    this.#state = state
  }

  static {
    stateOf = (session) => session.#state
  }

  /** True until the session has been stored (a new or destroyed session). */
  get isNew(): boolean {
    return this.#state.isNew
  }
  /** `'unmodified'`, `'modified'` or `'destroyed'`. */
  get status(): SessionStatus {
    return this.#state.status
  }
  /** The value of `key`, or undefined. */
  get(key: string): unknown {
    return this.#state.values.get(key)
  }
  /** True when `key` is set. */
  has(key: string): boolean {
    return this.#state.values.has(key)
  }
  /** Every key, sorted. */
  keys(): string[] {
    return this.#state.keys()
  }
  /** Set `key`; the session is modified. */
  put(key: string, value: unknown): void {
    this.#state.put(key, value)
  }
  /** Remove `key` (no change when absent). */
  remove(key: string): void {
    this.#state.remove(key)
  }
  /** Remove every value. */
  clear(): void {
    this.#state.clear()
  }
}

/** The fields of a {@link SessionState} a rebase replaces. */
export type Rebased = Pick<SessionState, 'base' | 'values' | 'previous' | 'created' | 'deadline' | 'persist' | 'user' | 'meta' | 'login'>

/**
 * The state of one session within one request: its values and change log, and the
 * bookkeeping the lifecycle needs. Internal (lib/ only): `Session` is the public face.
 */
export class SessionState {
  values: Map<string, unknown>
  /**
   * The values as stored when loaded (or last rebased onto), before this request's
   * changes: set on the first change (the values map is copied then, never before).
   * A rebase compares it with the fresher data to tell which `put` overwrote a change
   * this request never saw.
   */
  base: Map<string, unknown> | undefined
  status: SessionStatus = 'unmodified'
  changes: Change[] = []
  readonly session: Session
  /** Raw token; undefined until a new session is first committed. */
  token: string | undefined
  /** Store key (prefix + token or its hash); undefined for a new session. */
  storeKey: string | undefined
  /** Version loaded from a versioned store; undefined for a new session. */
  version: string | undefined
  /** Commit sequence of this process when loaded (in-process rebase). */
  loadedAt = 0
  created: number
  deadline: number
  /** Expiry the store holds for this session, ms. */
  expiry: number
  persist: boolean | undefined
  user: string | undefined
  meta: Record<string, unknown> | undefined
  seen: number | undefined
  login: number | undefined
  /** The user bound when loaded (to update the user index when it changes). */
  loadedUser: string | undefined
  /** A grace copy of a renewed session: readable, never committed. */
  readOnly: boolean
  /** `manager.user(ctx)` memo for this request. */
  userInfo: unknown
  /** Store key to delete once the renewed session is committed. */
  renewedFrom: string | undefined
  /** The state when the token was renewed: what a `renewGrace` copy serves. */
  renewedState: SessionRecord | undefined
  /** The old key's version the renewal loaded: its forward is written on it. */
  renewedVersion: string | undefined
  /** Commit sequence the old key's state is known at (in-process rebase of the forward). */
  renewedAt = 0
  /** A renewed session's old key and until when its forward lives there (destroy deletes it too). */
  previous: { key: string; until: number } | undefined
  /** Checks a value before it is put (the configured schema); throws to refuse it. */
  guard: ((key: string, value: unknown, values: ReadonlyMap<string, unknown>) => void) | undefined
  /**
   * The cookie (or header) value the client sent and, for a persistent cookie, the
   * expiry it carries. A commit that would send the same again sends nothing.
   */
  held: { wire: string; expires: number | undefined } | undefined
  /** The request this session came with (for `secure: 'auto'`). */
  request: RequestInfo | undefined
  /** Loaded while the store was failing (`onStoreError: 'anonymous'`): never committed. */
  degraded = false
  /** The request ended (`manager.end`): nothing more is committed. */
  ended = false
  /** The key this session holds in the commit chain (the one it was loaded under). */
  heldKey: string | undefined
  /** Its key was let go of in the commit chain. */
  released = false
  /** Called once when a change comes after the request ended (it cannot be saved). */
  late: (() => void) | undefined

  constructor(record: SessionRecord) {
    this.values = record.values
    this.created = record.created
    this.deadline = record.deadline
    this.expiry = record.expiry
    this.persist = record.persist
    this.user = record.user
    this.meta = record.meta
    this.seen = record.seen
    this.login = record.login
    this.previous = record.previous
    this.loadedUser = record.user
    this.readOnly = record.readOnly === true
    this.session = new Session(this)
  }

  /** True when this request bound or unbound a user. */
  get userChanged(): boolean {
    return this.changes.some((c) => c.op === 'user')
  }

  /** True until the session has a token (never committed). */
  get isNew(): boolean {
    return this.storeKey === undefined
  }

  keys(): string[] {
    return [...this.values.keys()].sort()
  }

  put(key: string, value: unknown): void {
    this.guard?.(key, value, this.values)
    this.#own().set(key, value)
    this.#record({ op: 'put', key, value })
  }

  /** Apply `fn` to the value of `key` now, and record it to re-apply at every rebase. */
  update(key: string, fn: (current: unknown) => unknown): unknown {
    const next = fn(this.values.get(key))
    this.guard?.(key, next, this.values)
    this.#own().set(key, next)
    this.#record({ op: 'update', key, fn })
    return next
  }

  remove(key: string): void {
    if (!this.values.has(key)) return
    this.#own().delete(key)
    this.#record({ op: 'remove', key })
  }

  clear(): void {
    if (this.values.size === 0) return
    this.#own().clear()
    this.#record({ op: 'clear' })
  }

  setDeadline(ms: number): void {
    this.deadline = ms
    this.#record({ op: 'deadline', value: ms })
  }

  setPersist(persist: boolean): void {
    this.persist = persist
    this.#record({ op: 'persist', value: persist })
  }

  setUser(user: string | undefined, meta?: Record<string, unknown>, login?: number): void {
    this.user = user
    this.meta = meta
    this.login = login
    this.#record({ op: 'user', value: user, meta, login })
  }

  /** Mark modified without a data change (e.g. a renewed token). */
  touchStatus(): void {
    this.#setStatus('modified')
  }

  /** Forget everything: the session was destroyed. A later put starts a new one. */
  reset(now: number, lifetime: number, expiry: number): void {
    this.values = new Map()
    this.base = undefined
    this.changes = []
    this.#setStatus('destroyed')
    this.token = undefined
    this.storeKey = undefined
    this.version = undefined
    this.renewedFrom = undefined
    this.renewedState = undefined
    this.renewedVersion = undefined
    this.previous = undefined
    this.held = undefined
    this.created = now
    this.deadline = now + lifetime
    this.expiry = expiry
    this.persist = undefined
    this.user = undefined
    this.meta = undefined
    this.login = undefined
    this.seen = undefined
    this.userInfo = undefined
  }

  /** The record to encode now. */
  toRecord(expiry: number, seen: number): SessionRecord {
    return {
      created: this.created,
      deadline: this.deadline,
      expiry,
      persist: this.persist,
      user: this.user,
      meta: this.meta,
      seen,
      login: this.login,
      values: this.values,
      // Carried while the forward lives; dropped with the first commit after.
      previous: this.previous !== undefined && this.previous.until > seen ? this.previous : undefined,
    }
  }

  /**
   * Replay this request's changes onto `base` (fresher data of the same session) and
   * adopt the result: the heart of "no lost updates". `update` functions run again on
   * the fresher values. Returns the keys this request `put` whose stored value changed
   * since this request last saw it: a plain put overwrote a concurrent change there.
   */
  rebase(base: SessionRecord): string[] {
    const seen = this.base ?? this.values
    const values = copyValues(base.values)
    let { deadline, persist, user, meta, login } = base
    let overwritten: string[] | undefined
    for (const change of this.changes) {
      switch (change.op) {
        case 'put':
          if (overwrites(change.key, seen, base.values) && overwritten?.includes(change.key) !== true) {
            ;(overwritten ??= []).push(change.key)
          }
          values.set(change.key, change.value)
          break
        case 'update': {
          const next = change.fn(values.get(change.key))
          this.guard?.(change.key, next, values)
          values.set(change.key, next)
          break
        }
        case 'remove':
          values.delete(change.key)
          break
        case 'clear':
          values.clear()
          break
        case 'deadline':
          deadline = change.value
          break
        case 'persist':
          persist = change.value
          break
        case 'user':
          user = change.value
          meta = change.meta
          login = change.login
          break
      }
    }
    this.base = base.values
    this.values = values
    this.previous ??= base.previous
    this.created = base.created
    this.deadline = deadline
    this.persist = persist
    this.user = user
    this.meta = meta
    this.login = login
    return overwritten ?? []
  }

  /** What {@link rebase} replaces, to put back with {@link restore} (a group commit that could not be merged). */
  snapshot(): Rebased {
    const { base, values, previous, created, deadline, persist, user, meta, login } = this
    return { base, values, previous, created, deadline, persist, user, meta, login }
  }

  /** Undo the rebases since `snapshot` was taken. */
  restore(snap: Rebased): void {
    Object.assign(this, snap)
  }

  /** The values map, copied away from the loaded one on this request's first change. */
  #own(): Map<string, unknown> {
    if (this.base === undefined) {
      this.base = this.values
      this.values = copyValues(this.values)
    }
    return this.values
  }

  #record(change: Change): void {
    this.changes.push(change)
    this.#setStatus('modified')
  }

  #setStatus(status: SessionStatus): void {
    if (this.ended && this.late !== undefined) {
      const late = this.late
      this.late = undefined
      late()
    }
    this.status = status
  }
}

/**
 * True when putting at `key` onto `stored` overwrites a change this request never
 * saw: the stored value moved since `seen` (even to what is being put: two requests
 * that both put `n + 1` lost an increment).
 */
function overwrites(key: string, seen: ReadonlyMap<string, unknown>, stored: ReadonlyMap<string, unknown>): boolean {
  return seen.has(key) !== stored.has(key) || !isDeepStrictEqual(seen.get(key), stored.get(key))
}
