/**
 * The commit of a modified session: versioned, rebased and retried on conflict. A
 * renewed token (`renewToken`, `login`) is part of the same versioned commit: the
 * session is written under its new key, then a forward replaces the old key — on the
 * version the renewal loaded, so a parallel request's commit to the old key is taken
 * in first — and a request still running on the old token follows the forward and
 * lands its changes in the renewed session. No write is lost either way round.
 * Commits of one session queued behind its write in flight are written as one (group
 * commit). Over 300 lines because these are one write path: the group, the retry, the
 * forward and its following each rebase through the same state and outcomes.
 */
import type { CommitChain } from './chain.js'
import type { SessionRecord } from './codec.js'
import type { ResolvedConfig } from './config.js'
import { SessionError } from './errors.js'
import { type CommitContext, type Events, sessionId } from './events.js'
import type { SessionState } from './session.js'
import type { VersionedStore } from './store.js'

/** What the write path uses of the lifecycle (lifecycle.ts; named here so the two files do not import each other). */
export interface CommitHost {
  readonly chain: CommitChain
  readonly config: Readonly<ResolvedConfig>
  readonly bus: Events
  readonly name: string
  call<T>(operation: string, pending: Promise<T>, attempts?: number): Promise<T>
  decode(key: string, data: Uint8Array): SessionRecord | undefined
  encode(record: SessionRecord): Uint8Array
  saved(session: SessionState, key: string, version: string | undefined, record: SessionRecord): void
  expiryAt(now: number, deadline: number): number
  remove(key: string): Promise<void>
}

/**
 * How long the forward at a renewed session's old key lives (when `renewGrace` is not
 * longer): a request still running on the old token after that finds the session gone.
 */
export const FORWARD_MS = 60_000

/** Follows of forwards in a row before giving up (renewals of one session racing). */
const MAX_HOPS = 8

/** How the forward is committed: a store that reports expiry must not report it. */
const FORWARD = { forward: true } as const

/** How a commit ended: written where the session lives, written after following a renewal, or the session was gone. */
export type Outcome = 'saved' | 'followed' | 'gone'

/** One write attempt's verdict: written, the session is gone, or it moved to a renewed key. */
type Written = boolean | { moved: string }

/** One commit of a write: the session and its tracing context. */
interface Member {
  readonly session: SessionState
  readonly stats: CommitContext
}

/** A commit waiting for its key: merged with the others waiting behind the same write. */
interface Waiting extends Member {
  done: (written: Written) => void
  fail: (err: unknown) => void
}

/** Thrown by a merged write that failed before reaching the store: its commits are then written one by one. */
class Unmergeable {
  constructor(readonly cause: unknown) {}
}

/** A newer state of a renewed session's old key than the renewal had seen. */
interface Newer {
  record: SessionRecord
  version: string | undefined
}

const backoff = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)))

/**
 * The versioned write path of the lifecycle: `#write` (one commit with its
 * rebases and retries), the renewal's forward, and following a forward.
 */
export class Commits {
  /** Per key, the commits queued behind the write in flight there (not yet started). */
  readonly #waiting = new Map<string, Waiting[]>()

  constructor(private readonly life: CommitHost, private readonly store: VersionedStore) {}

  /** Write `session` under its key, then (renewed) forward its old key. */
  save(session: SessionState, stats: CommitContext): Promise<Outcome> {
    // Not renewed (nearly every commit): the commit is all; no async frame around it.
    if (session.renewedFrom === undefined) return this.#commitAt(session, stats)
    return this.#saveRenewed(session, stats)
  }

  async #saveRenewed(session: SessionState, stats: CommitContext): Promise<Outcome> {
    const outcome = await this.#commitAt(session, stats)
    const old = session.renewedFrom
    if (outcome !== 'saved' || old === undefined) return outcome
    return this.#forwardFrom(session, old, stats)
  }

  /** Commit at the session's key, following any forward a parallel renewal left there. */
  async #commitAt(session: SessionState, stats: CommitContext): Promise<Outcome> {
    let followed = false
    for (let hop = 0; ; hop++) {
      const key = session.storeKey as string
      const written = await this.#queue(session, key, stats)
      if (written === true) return followed ? 'followed' : 'saved'
      if (written === false || hop === MAX_HOPS || !(await this.#adopt(session, written.moved, stats))) return 'gone'
      followed = true
    }
  }

  /**
   * Group commit: the commit of `session` at `key`, in the key's turn. Commits of one
   * session that arrive while a write of it is in flight wait together and are written
   * as one — each replayed onto the one before, in arrival order, exactly as they would
   * have been one after the other — so a hot session costs one round trip per turn, not
   * per request. A renewal's commit (its own new key) is never grouped.
   */
  #queue(session: SessionState, key: string, stats: CommitContext): Promise<Written> {
    if (session.renewedFrom !== undefined) return this.life.chain.run(key, () => this.#writeOne(session, stats, key))
    // A key nobody holds (a new session's) has no turn to wait for: its group would be
    // itself alone, formed and taken in this same tick (0.85 KB of a new session's request).
    if (!this.life.chain.holds(key) && !this.#waiting.has(key)) return this.#writeOne(session, stats, key)
    return new Promise<Written>((done, fail) => {
      const me: Waiting = { session, stats, done, fail }
      const open = this.#waiting.get(key)
      if (open !== undefined) {
        open.push(me)
        return
      }
      const group = [me]
      this.#waiting.set(key, group)
      void this.life.chain.run(key, () => {
        // The turn has come: later arrivals form the next group, behind this write.
        if (this.#waiting.get(key) === group) this.#waiting.delete(key)
        return this.#writeGroup(group, key)
      })
    })
  }

  /** One commit written alone (a renewal's, or a group's that could not be merged): its own error, never {@link Unmergeable}. */
  async #writeOne(session: SessionState, stats: CommitContext, key: string): Promise<Written> {
    try {
      return await this.#write([{ session, stats }], key)
    } catch (err) {
      throw err instanceof Unmergeable ? err.cause : err
    }
  }

  /** Write a group and answer each of its commits; never rejects. */
  async #writeGroup(group: Waiting[], key: string): Promise<void> {
    // Each later commit is replayed onto the one before: undone if they are written alone after all.
    const before = group.length === 1 ? undefined : group.map((w, i) => (i === 0 ? undefined : w.session.snapshot()))
    try {
      const written = await this.#write(group, key)
      for (const w of group) w.done(written)
    } catch (err) {
      if (!(err instanceof Unmergeable)) {
        for (const w of group) w.fail(err)
        return
      }
      if (group.length === 1) return (group[0] as Waiting).fail(err.cause)
      // Merged, it could not be encoded (too large, a value the codec refuses, a schema
      // the replay broke): each is written alone, so only the one at fault fails.
      for (const [i, w] of group.entries()) {
        const snap = before?.[i]
        if (snap !== undefined) w.session.restore(snap)
        await this.#writeOne(w.session, w.stats, key).then(w.done, w.fail)
      }
    }
  }

  /**
   * One write of the commits `sessions` of one key (one, or a group), rebased and
   * retried on conflict: the first is rebased onto the newest state of the key, each
   * later one onto the record of the one before it, and the last one's record — holding
   * every change — is written. Fails with {@link Unmergeable} before the store is
   * called, with the store's error after.
   */
  async #write(group: readonly Member[], key: string): Promise<Written> {
    const { life, store } = this
    const head = group[0] as Member
    const first = head.session
    const retries = life.config.commitRetries
    for (let attempt = 0; attempt <= retries; attempt++) {
      for (const m of group) m.stats.attempts = attempt + 1
      const newer = life.chain.newer(key, first.loadedAt)
      if (newer !== undefined) {
        const verdict = moved(newer.record)
        if (verdict !== undefined) return verdict
        rebaseOnto(this.life, first, newer.record as SessionRecord, key, head.stats, 'rebase')
        first.version = newer.version
        first.loadedAt = newer.seq
      }
      const now = life.config.now()
      let record: SessionRecord
      let data: Uint8Array
      try {
        record = first.toRecord(life.expiryAt(now, first.deadline), now)
        for (let i = 1; i < group.length; i++) {
          const next = group[i] as Member
          rebaseOnto(this.life, next.session, record, key, next.stats, 'rebase')
          record = next.session.toRecord(life.expiryAt(now, next.session.deadline), now)
        }
        data = life.encode(record)
      } catch (err) {
        throw new Unmergeable(err)
      }
      const version = await life.call('commit', store.commitIfVersion(key, data, new Date(record.expiry), first.version), attempt + 1)
      if (version !== null) {
        for (const m of group) life.saved(m.session, key, version, record)
        return true
      }
      // Conflict: another process changed it. Back off a random moment (so two busy
      // processes stop colliding in lockstep), re-read, replay our changes, try again.
      for (const m of group) m.stats.conflicts++
      await backoff(attempt)
      const entry = await life.call('find', store.findVersioned(key), attempt + 1)
      if (entry === undefined) return false
      const fresh = life.decode(key, entry.data)
      if (fresh !== undefined) {
        const verdict = moved(fresh)
        if (verdict !== undefined) return verdict
        rebaseOnto(this.life, first, fresh, key, head.stats, 'retry')
      }
      first.version = entry.version
      first.loadedAt = life.chain.seq
    }
    throw new SessionError('ERR_CONFLICT', `session kept changing under ${retries} retries`)
  }

  /**
   * Make the renewed session at `target` this session's base: read it and replay this
   * request's changes onto it. False when it is gone.
   */
  async #adopt(session: SessionState, target: string, stats: CommitContext): Promise<boolean> {
    const { life, store } = this
    let key = target
    for (let hop = 0; hop <= MAX_HOPS; hop++) {
      const entry = await life.call('find', store.findVersioned(key))
      const record = entry && life.decode(key, entry.data)
      if (entry === undefined || record === undefined) return false
      if (record.forward !== undefined) {
        key = record.forward
        continue
      }
      if (record.readOnly === true) return false
      rebaseOnto(this.life, session, record, key, stats, 'retry')
      session.storeKey = key
      session.version = entry.version
      session.loadedAt = life.chain.seq
      // The user index follows the renewed session's binding from here on.
      session.loadedUser = record.user
      return true
    }
    return false
  }

  /**
   * Replace the renewed session's old key with a forward to its new one, on the
   * version the renewal loaded. A commit made to the old key meanwhile is taken in
   * (replayed under, then the new key rewritten) and the forward tried again.
   */
  async #forwardFrom(session: SessionState, old: string, stats: CommitContext): Promise<Outcome> {
    const { life } = this
    for (let attempt = 0; attempt <= life.config.commitRetries; attempt++) {
      const newer = await life.chain.run(old, () => this.#forward(session, old))
      if (newer === undefined) return 'saved'
      if (newer.record.forward !== undefined) return this.#yieldTo(session, stats)
      rebaseOnto(this.life, session, newer.record, old, stats, 'retry')
      session.renewedState = newer.record
      session.renewedVersion = newer.version
      session.loadedAt = life.chain.seq
      const key = session.storeKey as string
      // Nobody else knows the new key yet: this write meets no conflict.
      if ((await life.chain.run(key, () => this.#writeOne(session, stats, key))) !== true) return 'gone'
    }
    throw new SessionError('ERR_CONFLICT', `session kept changing under ${life.config.commitRetries} retries while its token was renewed`)
  }

  /** Write the forward; undefined once written (or the old key is gone), else what is newer there. */
  async #forward(session: SessionState, old: string): Promise<Newer | undefined> {
    const { life, store } = this
    const seen = life.chain.newer(old, session.renewedAt)
    if (seen !== undefined) {
      session.renewedAt = seen.seq
      return seen.record === null ? undefined : { record: seen.record, version: seen.version }
    }
    const now = life.config.now()
    const grace = life.config.renewGrace
    const base = session.renewedState as SessionRecord
    // Readable (read-only) for renewGrace; with none, the old token is dead at once.
    const readable = grace === undefined ? now : Math.min(now + grace, session.deadline)
    // With no grace nobody reads it: the forward holds no values, user or metadata.
    const record: SessionRecord = grace === undefined
      ? { created: base.created, deadline: base.deadline, expiry: readable, readOnly: true, forward: session.storeKey as string, values: new Map() }
      : { ...base, previous: undefined, expiry: readable, readOnly: true, forward: session.storeKey as string }
    // Kept as long as the renewal promised (renew set it: renewGrace or FORWARD_MS, whichever is longer).
    const kept = new Date(Math.max(readable, (session.previous as { until: number }).until))
    const version = await life.call('commit', store.commitIfVersion(old, life.encode(record), kept, session.renewedVersion, FORWARD))
    if (version !== null) {
      life.chain.settle(old, version, record)
      return undefined
    }
    const entry = await life.call('find', store.findVersioned(old))
    const fresh = entry && life.decode(old, entry.data)
    session.renewedAt = life.chain.seq
    return entry === undefined || fresh === undefined ? undefined : { record: fresh, version: entry.version }
  }

  /**
   * A parallel renewal of the same session won the old key: this one's new key was
   * never handed out, so it is dropped and the changes follow the winner's forward.
   */
  async #yieldTo(session: SessionState, stats: CommitContext): Promise<Outcome> {
    const mine = session.storeKey as string
    const old = session.renewedFrom as string
    session.renewedFrom = undefined
    session.renewedState = undefined
    await this.life.remove(mine)
    session.storeKey = old
    if (!(await this.#adopt(session, old, stats))) return 'gone'
    return (await this.#commitAt(session, stats)) === 'gone' ? 'gone' : 'followed'
  }
}

/**
 * Replay `session`'s changes onto fresher data of `key` (a `'rebase'` onto this
 * process's newer commit counts as a conflict; a `'retry'` was counted when the store
 * refused), and a `conflict` event for each `put` that overwrote a change it never saw.
 * Shared by the versioned path here and the lifecycle's path for stores without versions.
 */
export function rebaseOnto(
  host: Pick<CommitHost, 'bus' | 'name'>,
  session: SessionState,
  base: SessionRecord,
  key: string,
  stats: CommitContext,
  kind: 'rebase' | 'retry',
): void {
  if (kind === 'rebase') stats.conflicts++
  stats.rebased = true
  const overwritten = session.rebase(base)
  if (overwritten.length === 0 || !host.bus.wants('conflict')) return
  const id = sessionId(key)
  for (const name of overwritten) host.bus.emit('conflict', { store: host.name, id, key: name, attempt: stats.attempts, kind })
}

/** What a newer state of a key means for a commit there: moved (a forward), gone, or go on (undefined). */
function moved(record: SessionRecord | null): Written | undefined {
  if (record === null) return false
  if (record.forward !== undefined) return { moved: record.forward }
  // A grace copy written by an older version: readable, never written.
  if (record.readOnly === true) return false
  return undefined
}
