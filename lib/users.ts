import { SessionError } from './errors.js'
import { sessionId } from './events.js'
import type { Lifecycle } from './lifecycle.js'
import type { SessionState } from './session.js'
import { hasUserIndex, type UserIndexStore } from './store.js'

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
 * revocation, single-session and the user-info cache. Internal; the manager exposes
 * them.
 */
export class Users {
  constructor(readonly life: Lifecycle) {}

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

  /** After a commit: keep the index in step with the session's user and key. */
  async afterSave(session: SessionState, key: string): Promise<void> {
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
      if (this.life.config.singleSession && session.userChanged) await this.#keepNewest(session.user)
    }
    session.loadedUser = session.user
  }

  /** The user's live sessions, loaded (grace copies and foreign entries skipped). */
  async list(userId: string): Promise<Array<{ key: string; session: SessionState }>> {
    const store = this.index()
    const keys = await this.life.call('listUser', store.listUser(this.indexKey(userId)))
    const out: Array<{ key: string; session: SessionState }> = []
    for (const key of keys) {
      const session = await this.life.loadKey(key)
      this.life.release(session)
      if (session.isNew || session.readOnly || session.user !== userId) continue
      out.push({ key, session })
    }
    return out
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
    let count = 0
    for (const key of keys) {
      if (!drop(key)) continue
      await this.life.remove(key)
      await this.life.call('removeFromUser', store.removeFromUser(this.indexKey(userId), key))
      count++
    }
    this.#revoked(userId, count, reason)
    return count
  }

  #revoked(userId: string, count: number, reason: 'revokeUser' | 'revokeSession' | 'singleSession'): void {
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
   * singleSession: of the user's sessions this process sees after its own commit,
   * keep only the newest login. Two racing processes: the later lister sees both and
   * keeps the newest; the earlier one saw only its own (or also both) and deletes at
   * most what it saw — so exactly one session survives.
   */
  async #keepNewest(userId: string): Promise<void> {
    const all = await this.list(userId)
    const rank = (e: { key: string; session: SessionState }) => [e.session.login ?? 0, e.key] as const
    const newest = all.reduce<(typeof all)[number] | undefined>((best, e) => {
      if (best === undefined) return e
      const [a, ak] = rank(e)
      const [b, bk] = rank(best)
      return a > b || (a === b && ak > bk) ? e : best
    }, undefined)
    // Delete only what this process saw: a session added after our listing is newer
    // than ours and is the other process's to judge.
    const store = this.index()
    let count = 0
    for (const { key } of all) {
      if (key === newest?.key) continue
      await this.life.remove(key)
      await this.life.call('removeFromUser', store.removeFromUser(this.indexKey(userId), key))
      count++
    }
    this.#revoked(userId, count, 'singleSession')
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
    if (load === undefined) throw new SessionError('ERR_CONFIG', 'manager.user needs the loadUser option')
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
