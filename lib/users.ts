import { ConfigError, SessionError } from './errors.js'
import { sessionId } from './events.js'
import { type Lifecycle, live } from './lifecycle.js'
import { SessionState } from './session.js'
import { type FoundEntry, canBatch, canTouch, hasUserIndex, type UserIndexStore } from './store.js'
import { Admissions } from './user-limit.js'

/** Without `findMany`: how many sessions are read at once. */
const FALLBACK_READS = 32

/** One live session of a user, as `sessionsOf` lists it. Never carries the token. */
export interface SessionInfo {
  /** Opaque id for `revokeSession`; not a token and not usable as one. */
  id: string
  created: Date
  /** Last commit of the session. */
  lastSeen: Date
  /** Absolute deadline. */
  deadline: Date
  /** Current expiry (idle or absolute, whichever is first). */
  expires: Date
  /** When the user logged in with this session. */
  loggedIn: Date | undefined
  /** Metadata recorded at login (user agent, IP, …). */
  meta: Record<string, unknown>
}

/**
 * The user features (gosession's token management): the user index, listing,
 * revocation, the session limit (`maxSessionsPerUser`) and the user-info cache. Internal; the manager exposes
 * them.
 */
export class Users {
  /** `onSessionLimit: 'refuse'`: who holds the user's places. */
  readonly admissions: Admissions

  constructor(readonly life: Lifecycle) {
    this.admissions = new Admissions(this)
  }

  /** The index key of a user: scoped by the manager's prefix. */
  indexKey(userId: string): string {
    return `${this.life.config.prefix}user:${userId}`
  }

  /** Cache key of a user's info: outside the session key space (`iterate` skips it). */
  infoKey(userId: string): string {
    return `${this.life.config.prefix}user-info:${userId}`
  }

  /** Opaque, stable id of a stored session. */
  sessionId(key: string): string {
    return sessionId(key)
  }

  /** The store, when it has a user index; else a clear error. */
  index(): UserIndexStore {
    const store = this.life.store
    if (!hasUserIndex(store)) {
      throw new SessionError('ERR_UNSUPPORTED', `${this.life.name} has no user index (addToUser/listUser/removeFromUser)`)
    }
    return store
  }

  /**
   * After a commit: keep the index in step with the session's user and key. Undefined
   * (nothing to wait for) when the session had no user and has none: most commits.
   */
  afterSave(session: SessionState, key: string): Promise<void> | undefined {
    if (session.loadedUser === undefined && session.user === undefined) return undefined
    return this.#index(session, key)
  }

  async #index(session: SessionState, key: string): Promise<void> {
    const store = this.life.store
    if (!hasUserIndex(store)) return
    const previous = session.loadedUser
    const renewed = session.renewedFrom
    if (previous !== undefined && (previous !== session.user || renewed !== undefined)) {
      const oldKey = renewed ?? key
      // A grace copy stays listed until it expires; revokeUser must reach it too.
      if (renewed === undefined || this.life.config.renewGrace === undefined) {
        await this.life.call('removeFromUser', store.removeFromUser(this.indexKey(previous), oldKey))
      }
    }
    if (session.user !== undefined && (session.userChanged || renewed !== undefined)) {
      await this.life.call('addToUser', store.addToUser(this.indexKey(session.user), key, new Date(session.deadline)))
      const max = this.life.config.maxSessionsPerUser
      if (max !== undefined) {
        if (this.life.config.onSessionLimit === 'refuse') await this.admissions.admit(session, key, renewed)
        else if (session.userChanged) await this.#keepNewest(session.user, max)
      }
    }
    session.loadedUser = session.user
  }

  /** The user's live sessions, loaded (grace copies and foreign entries skipped). */
  async list(userId: string): Promise<Array<{ key: string; session: SessionState }>> {
    const store = this.index()
    const keys = await this.life.call('listUser', store.listUser(this.indexKey(userId)))
    return (await this.loadMany(keys)).filter(({ session }) => !session.readOnly && session.user === userId)
  }

  /**
   * The live sessions under `keys`, in their order: one `findMany` when the store
   * batches, else `find` per key, {@link FALLBACK_READS} at a time. Nothing is held:
   * these are read to be listed or judged, never committed.
   */
  async loadMany(keys: readonly string[]): Promise<Array<{ key: string; session: SessionState }>> {
    const store = this.life.store
    const out: Array<{ key: string; session: SessionState }> = []
    if (canBatch(store)) {
      const entries = keys.length === 0 ? [] : await this.life.call('findMany', store.findMany(keys))
      keys.forEach((key, i) => {
        const session = this.#fromEntry(key, entries[i])
        if (session !== undefined) out.push({ key, session })
      })
      return out
    }
    for (let i = 0; i < keys.length; i += FALLBACK_READS) {
      const chunk = keys.slice(i, i + FALLBACK_READS)
      const sessions = await Promise.all(chunk.map((key) => this.life.loadKey(key)))
      sessions.forEach((session, j) => {
        this.life.release(session)
        if (!session.isNew) out.push({ key: chunk[j] as string, session })
      })
    }
    return out
  }

  /** What `Lifecycle.loadKey` makes of a stored entry, without holding the key. */
  #fromEntry(key: string, entry: FoundEntry | undefined): SessionState | undefined {
    if (entry === undefined) return undefined
    const record = this.life.decode(key, entry.data)
    const now = this.life.config.now()
    // As in loadKey: a store that can touch moves the expiry without rewriting the record.
    const expiry = entry.expiry?.getTime() ?? (canTouch(this.life.store) ? undefined : record?.expiry)
    if (record === undefined || !live(record, expiry, now)) return undefined
    const session = new SessionState(record)
    session.storeKey = key
    session.version = entry.version
    if (expiry !== undefined) session.expiry = expiry
    return session
  }

  /**
   * Delete sessions of a user and forget them in the user's index: one `deleteMany`
   * when the store batches, else `delete` and `removeFromUser` per key.
   */
  async drop(userId: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    const store = this.index()
    const index = this.indexKey(userId)
    if (canBatch(store)) {
      await this.life.call('deleteMany', store.deleteMany(keys, index))
      // What remove() tells this process's in-flight commits of each key: it is gone.
      for (const key of keys) this.life.chain.settle(key, undefined, null)
      return
    }
    for (const key of keys) {
      await this.life.remove(key)
      await this.life.call('removeFromUser', store.removeFromUser(index, key))
    }
  }

  async sessionsOf(userId: string): Promise<SessionInfo[]> {
    return (await this.list(userId)).map(({ key, session }) => ({
      id: this.sessionId(key),
      created: new Date(session.created),
      lastSeen: new Date(session.seen ?? session.created),
      deadline: new Date(session.deadline),
      expires: new Date(session.expiry),
      loggedIn: session.login === undefined ? undefined : new Date(session.login),
      meta: session.meta ?? {},
    }))
  }

  /** Delete every listed session of the user for which `drop` says yes; count them. */
  async revoke(userId: string, drop: (key: string) => boolean, reason: 'revokeUser' | 'revokeSession'): Promise<number> {
    const store = this.index()
    const keys = await this.life.call('listUser', store.listUser(this.indexKey(userId)))
    const chosen = keys.filter(drop)
    await this.drop(userId, chosen)
    this.#revoked(userId, chosen.length, reason)
    return chosen.length
  }

  #revoked(userId: string, count: number, reason: 'revokeUser' | 'revokeSession' | 'sessionLimit'): void {
    const events = this.life.bus
    if (count > 0 && events.wants('revoked')) events.emit('revoked', { store: this.life.name, userId, count, reason })
  }

  /** Remove a destroyed session from its user's index. */
  async onDestroy(session: SessionState, key: string): Promise<void> {
    const store = this.life.store
    const user = session.loadedUser ?? session.user
    if (user === undefined || !hasUserIndex(store)) return
    await this.life.call('removeFromUser', store.removeFromUser(this.indexKey(user), key))
  }

  /**
   * evictOldest: of the user's sessions this process sees after its own commit, keep
   * the `max` newest logins (by login time, then key: one total order every process
   * shares). Racing processes: a session one deletes is behind `max` others it saw,
   * so behind them in the full set too; the last to list sees every racer's commit.
   * So exactly the `max` newest survive, whichever order the processes run in.
   */
  async #keepNewest(userId: string, max: number): Promise<void> {
    const all = await this.list(userId)
    if (all.length <= max) return
    const newestFirst = all.sort((x, y) => {
      const a = x.session.login ?? 0
      const b = y.session.login ?? 0
      return a !== b ? b - a : x.key < y.key ? 1 : x.key > y.key ? -1 : 0
    })
    // Delete only what this process saw: a session added after our listing is newer
    // than ours and is the other process's to judge.
    const evicted = newestFirst.slice(max).map((e) => e.key)
    await this.drop(userId, evicted)
    this.#revoked(userId, evicted.length, 'sessionLimit')
  }

  /** `manager.user(ctx)`: cached info, loaded once when missing or stale. */
  async info(session: SessionState): Promise<unknown> {
    if (session.user === undefined) return undefined
    if (session.userInfo !== undefined) return session.userInfo
    const key = this.infoKey(session.user)
    const data = await this.life.call('find', this.life.store.find(key))
    const record = data && this.life.decode(key, data)
    if (record !== undefined && record.expiry > this.life.config.now()) {
      session.userInfo = record.values.get('info')
      return session.userInfo
    }
    session.userInfo = await this.refresh(session.user)
    return session.userInfo
  }

  /** Load a user's info with `loadUser` and cache it. */
  async refresh(userId: string): Promise<unknown> {
    const load = this.life.config.loadUser
    if (load === undefined) throw new ConfigError('manager.user: option loadUser: expected a function (manager.user needs it)')
    const info = await load(userId)
    const now = this.life.config.now()
    const expiry = now + this.life.config.userCacheTtl
    const data = this.life.config.codec.encode({ created: now, deadline: expiry, expiry, values: new Map([['info', info]]) })
    await this.life.call('commit', this.life.store.commit(this.infoKey(userId), data, new Date(expiry)))
    return info
  }

  /** Drop a user's cached info. */
  async forget(userId: string): Promise<void> {
    await this.life.call('delete', this.life.store.delete(this.infoKey(userId)))
  }
}
