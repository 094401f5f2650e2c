/**
 * The manager's lifecycle events: their payload types, the `node:diagnostics_channel`
 * channels they are also published on, and the `TracingChannel`s around store calls
 * and commits. Every emit point first asks {@link Events.wants}, which is two property
 * reads, so an event nobody observes costs nothing but that check: no payload is built
 * and no session id is hashed.
 *
 * Channel names are stable API: `session-manager:<event>` for each event, and the
 * tracing channels `session-manager:store` and `session-manager:commit`
 * (`tracing:session-manager:store:start`, `…:asyncEnd`, `…:error`, …).
 */
import { createHash } from 'node:crypto'
import { channel, type Channel, tracingChannel, type TracingChannel } from 'node:diagnostics_channel'
import type { EventEmitter } from 'node:events'
import type { StoreError } from './errors.js'

/** A new session was committed for the first time. */
export interface CreatedEvent { store: string; id: string; userId: string | undefined }
/** A modified session was written (`attempts` > 1: retried after conflicts). */
export interface CommittedEvent {
  store: string
  id: string
  /** True for the first commit of a new session. */
  created: boolean
  /** Store writes tried (1 without conflict). */
  attempts: number
  /** Conflicts met: in-process rebases plus store-side version conflicts. */
  conflicts: number
  /** True when this request's changes were replayed onto fresher data. */
  rebased: boolean
}
/** A renewed token took effect: the session now lives under `id`, `previousId` is gone (or a grace copy). */
export interface RenewedEvent { store: string; id: string; previousId: string; userId: string | undefined }
/** A session was deleted by `destroy(ctx)` (`reason: 'destroy'`) or merged into another (`'merge'`). */
export interface DestroyedEvent { store: string; id: string; userId: string | undefined; reason: 'destroy' | 'merge' }
/** Sessions of a user were ended from outside: `revokeUser`, `revokeSession`, or a login evicting over `maxSessionsPerUser` (`sessionLimit`). */
export interface RevokedEvent {
  store: string
  userId: string
  /** Sessions deleted. */
  count: number
  reason: 'revokeUser' | 'revokeSession' | 'sessionLimit'
}
/** A login was committed: the session `id` is now bound to `userId`. */
export interface LoggedInEvent { store: string; id: string; userId: string }
/** A session was found expired when loaded (`source: 'load'`) or reported expired by the store (`'store'`). */
export interface ExpiredEvent { store: string; id: string; source: 'load' | 'store' }
/**
 * A plain `put` overwrote a concurrent change: this request put `key`, and a commit it
 * had not seen changed that key meanwhile; its value won. (Use `update` there: it
 * re-applies to the stored value instead.) `kind: 'rebase'`, the other commit came from
 * this process; `'retry'`, from another (the store refused the versioned write). Only
 * emitted when values differ: rebases that overwrite nothing (every `committed` event
 * counts them) say nothing.
 */
export interface ConflictEvent { store: string; id: string; key: string; attempt: number; kind: 'rebase' | 'retry' }
/** Stored bytes did not decode (or failed `schema`); the request went on without them. */
export interface CorruptEvent { store: string; id: string; error: unknown }

/** Events of the manager, by name: the payload each listener receives. None carries a token. */
export interface SessionManagerEvents {
  created: [CreatedEvent]
  committed: [CommittedEvent]
  renewed: [RenewedEvent]
  destroyed: [DestroyedEvent]
  revoked: [RevokedEvent]
  loggedIn: [LoggedInEvent]
  expired: [ExpiredEvent]
  conflict: [ConflictEvent]
  /** A store failure absorbed by `onStoreError: 'anonymous'` (every failure is on the store tracing channel). */
  storeError: [StoreError]
  corrupt: [CorruptEvent]
}

/** The name of a manager event. */
export type SessionEventName = keyof SessionManagerEvents

const NAMES: SessionEventName[] = [
  'created', 'committed', 'renewed', 'destroyed', 'revoked', 'loggedIn', 'expired', 'conflict', 'storeError', 'corrupt',
]

/** The diagnostics channel of each event: `session-manager:<event>`. */
export const eventChannels: { readonly [K in SessionEventName]: Channel } = Object.freeze(
  Object.fromEntries(NAMES.map((n) => [n, channel(`session-manager:${n}`)])) as { [K in SessionEventName]: Channel },
)

/** The context object of the `session-manager:store` tracing channel: one store call. */
export interface StoreCallContext {
  store: string
  /** `find`, `commit`, `touch`, `delete`, `open`, `addToUser`, `listUser`, `removeFromUser`, `findMany`, `deleteMany`. */
  operation: string
  /** Which attempt of its commit this call belongs to (1 outside commit retries). */
  attempts: number
  /** Set when the call settles: `ok`, `miss` (nothing found), `conflict` (a versioned write refused), `error`, `timeout`. */
  outcome?: 'ok' | 'miss' | 'conflict' | 'error' | 'timeout'
  /** Set by Node on failure (a `StoreError`), or the result on success. */
  error?: unknown
  result?: unknown
}

/** The context object of the `session-manager:commit` tracing channel: one versioned write with its retries. */
export interface CommitContext {
  store: string
  id: string
  created: boolean
  attempts: number
  conflicts: number
  rebased: boolean
  /** Set when it settles: `saved`, or `gone` (destroyed or renewed elsewhere meanwhile: nothing written). */
  outcome?: 'saved' | 'gone'
  error?: unknown
  result?: unknown
}

/** Tracing channel around every store call. */
export const storeChannel: TracingChannel<unknown, StoreCallContext> = tracingChannel('session-manager:store')
/** Tracing channel around every session write (with its conflict retries). */
export const commitChannel: TracingChannel<unknown, CommitContext> = tracingChannel('session-manager:commit')

/** True when anything subscribes to `tc` (TracingChannel.hasSubscribers is missing before Node 20.13). */
export function traced(tc: { readonly [K in 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error']: { readonly hasSubscribers: boolean } }): boolean {
  return tc.start.hasSubscribers || tc.end.hasSubscribers || tc.asyncStart.hasSubscribers ||
    tc.asyncEnd.hasSubscribers || tc.error.hasSubscribers
}

/** Opaque, stable id of a stored session (what `sessionsOf` lists); never usable as a token. */
export function sessionId(key: string): string {
  return createHash('sha256').update(`session-id:${key}`).digest('base64url').slice(0, 22)
}

/**
 * Emits a manager's events to its listeners and its diagnostics channels. A listener
 * that throws (or an async one that rejects) is logged and skipped: an observer never
 * breaks a request.
 */
export class Events {
  constructor(
    readonly emitter: EventEmitter<SessionManagerEvents>,
    readonly store: string,
    readonly onListenerError: (err: unknown) => void,
  ) {}

  /** True when `name` has a listener or a channel subscriber: build the payload only then. */
  wants(name: SessionEventName): boolean {
    return eventChannels[name].hasSubscribers || this.emitter.listenerCount(name) > 0
  }

  /** Publish `payload` to the channel and every listener of `name`. */
  emit<K extends SessionEventName>(name: K, payload: SessionManagerEvents[K][0]): void {
    const ch = eventChannels[name]
    if (ch.hasSubscribers) ch.publish(payload)
    // rawListeners: `once` wrappers remove themselves when called.
    for (const listener of this.emitter.rawListeners(name) as Array<(p: unknown) => unknown>) {
      try {
        const out = listener.call(this.emitter, payload)
        if (out instanceof Promise) out.catch(this.onListenerError)
      } catch (err) {
        this.onListenerError(err)
      }
    }
  }
}

/** Run `run` inside the commit tracing channel when it has subscribers. */
export function traceCommit<T>(context: CommitContext, run: () => Promise<T>): Promise<T> {
  if (!traced(commitChannel)) return run()
  return commitChannel.tracePromise(async () => {
    const saved = await run()
    context.outcome = saved === false ? 'gone' : 'saved'
    return saved
  }, context)
}
