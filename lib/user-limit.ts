/**
 * `maxSessionsPerUser` with `onSessionLimit: 'refuse'`: which of a user's sessions
 * hold the user's places.
 *
 * Refusing cannot be decided the way evictOldest is (each process listing the user
 * after its own commit): a login refused or admitted must be told so before its
 * response, and no order of login times tells a process about a login that started
 * earlier but commits later. So the places are an admission record per user
 * (`<prefix>user-slots:<user>`: the admitted session keys), changed only by a
 * versioned commit (compare-and-set) after the login's session is stored. Of racing
 * logins exactly the first N to change the record are admitted; each later one sees N
 * live places taken, deletes its own new session and fails with SessionLimitError.
 * A place frees itself when its session ends (logout, revocation, expiry): places are
 * counted by reading the admitted sessions (one batched read), never trusted blindly.
 */
import { SessionError, SessionLimitError } from './errors.js'
import type { SessionState } from './session.js'
import { isVersioned, type VersionedStore } from './store.js'
import type { Users } from './users.js'

const backoff = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)))

/** The admission records of one manager. Internal; `Users` drives it. */
export class Admissions {
  constructor(readonly users: Users) {}

  /** Key of a user's admission record: outside the session key space (`iterate` skips it). */
  key(userId: string): string {
    return `${this.users.life.config.prefix}user-slots:${userId}`
  }

  /**
   * At `login`, before the token is renewed: refuse now when the user's places are
   * all taken by live sessions other than `current` (the session logging in). A
   * shortcut only — racing logins are decided at commit by {@link admit}.
   */
  async check(userId: string, current: string | undefined): Promise<void> {
    const max = this.users.life.config.maxSessionsPerUser
    if (max === undefined || this.users.life.config.onSessionLimit !== 'refuse') return
    const { admitted } = await this.#read(userId)
    const live = await this.#live(userId, admitted.filter((k) => k !== current))
    if (live.length >= max) throw new SessionLimitError(userId, max)
  }

  /**
   * After the commit of a session bound to a user (and its index entry): claim a
   * place for `key`, or — when the user's places are taken — delete the session and
   * throw SessionLimitError. `replaces`: the key the session had before a renewal,
   * whose place passes to `key` (a renewal is never refused; a session that never
   * held a place gets none by being renewed).
   */
  async admit(session: SessionState, key: string, replaces: string | undefined): Promise<void> {
    const life = this.users.life
    const max = life.config.maxSessionsPerUser
    const userId = session.user
    if (max === undefined || userId === undefined) return
    const store = life.store as VersionedStore
    if (!isVersioned(store)) throw new SessionError('ERR_UNSUPPORTED', `${life.name} has no versions (onSessionLimit 'refuse')`)
    // Every lost race means another session took a place; with all places taken the
    // answer is a refusal without a write. So max + retries attempts always suffice.
    const attempts = max + life.config.commitRetries + 1
    for (let attempt = 0; attempt < attempts; attempt++) {
      const { admitted, version } = await this.#read(userId)
      if (admitted.includes(key)) return
      const swap = replaces !== undefined && admitted.includes(replaces)
      if (!swap && !session.userChanged) return
      const live = await this.#live(userId, admitted.filter((k) => k !== replaces))
      if (!swap && live.length >= max) {
        await this.users.drop(userId, [key])
        throw new SessionLimitError(userId, max)
      }
      const keys = [...live.map((e) => e.key), key]
      const expiry = live.reduce((m, e) => Math.max(m, e.session.deadline), session.deadline)
      const now = life.config.now()
      const data = life.config.codec.encode({ created: now, deadline: expiry, expiry, values: new Map([['admitted', keys]]) })
      if ((await life.call('commit', store.commitIfVersion(this.key(userId), data, new Date(expiry), version))) !== null) return
      await backoff(attempt)
    }
    throw new SessionError('ERR_CONFLICT', `the session places of a user kept changing under ${attempts} attempts`)
  }

  /** The admitted keys of a user and the record's version (none yet: undefined). */
  async #read(userId: string): Promise<{ admitted: string[]; version: string | undefined }> {
    const life = this.users.life
    const store = life.store
    if (!isVersioned(store)) return { admitted: [], version: undefined }
    const key = this.key(userId)
    const entry = await life.call('find', store.findVersioned(key))
    if (entry === undefined) return { admitted: [], version: undefined }
    const listed = life.decode(key, entry.data)?.values.get('admitted')
    // An unreadable record (reported by decode) holds no places; the next admission rewrites it.
    const admitted = Array.isArray(listed) ? listed.filter((k): k is string => typeof k === 'string') : []
    return { admitted, version: entry.version }
  }

  /** The sessions of `keys` still alive and still the user's. */
  async #live(userId: string, keys: string[]) {
    return (await this.users.loadMany(keys)).filter(({ session }) => !session.readOnly && session.user === userId)
  }
}
