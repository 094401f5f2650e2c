import type { ServerResponse } from 'node:http'

/** How a held response is released. */
export interface HoldHooks {
  /** Synchronous check: is there anything to do before the first byte leaves? */
  needed(): boolean
  /** The async work (the commit, then setting headers) to finish before sending. */
  before(): Promise<void>
  /** `before` failed: the held writes are dropped; answer the request instead. */
  failed(err: unknown): void
  /**
   * The first write went through with nothing to commit: later changes cannot reach
   * this response (e.g. warn when the session changes after all).
   */
  passed?(): void
}

/** Control of a held response. */
export interface Hold {
  /** Restore the response's own methods without committing (the handler failed). */
  cancel(): void
  /** True once the response started: its commit is under way or done, or it needed none. */
  readonly started: boolean
}

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders'
const METHODS: readonly Method[] = ['writeHead', 'write', 'end', 'flushHeaders']
type Fn = (this: ServerResponse, ...args: unknown[]) => unknown
type Slots = Record<Method, unknown>

/**
 * Hold a Node response's first header write until `hooks.before()` is done, so the
 * session is committed (and its Set-Cookie set) before anything reaches the client.
 * Node http and Express have no pre-send hook of their own; this is that hook, in one
 * place (as SCS wraps its ResponseWriter).
 *
 * Calls made while the commit runs are queued in order and replayed afterwards;
 * `write` answers `false` meanwhile and `'drain'` follows, so streams wait instead of
 * piling data up. When there is nothing to commit, the first write goes straight
 * through with no added latency.
 *
 * The hold is installed before the handler runs, never later: `res.end(render())`
 * looks `end` up before `render()` runs, so a hold installed by a change made inside
 * `render()` would be bypassed (the body would leave without its headers).
 */
export function holdResponse(res: ServerResponse, hooks: HoldHooks): Hold {
  const slots = res as unknown as Slots
  // What each method is now (the prototype's, or another middleware's own wrapper),
  // and whether that was an own property, to put back exactly what was there.
  const own: Fn[] = []
  const previous: Array<PropertyDescriptor | undefined> = []
  for (const m of METHODS) {
    own.push(slots[m] as Fn)
    previous.push(Object.getOwnPropertyDescriptor(res, m))
  }
  let started = false
  let restored = false
  const queue: Array<[number, unknown[]]> = []

  const restore = () => {
    if (restored) return
    restored = true
    // Last added, first removed: V8 then returns `res` to its original shape instead
    // of turning it into a slow dictionary object.
    for (let i = METHODS.length - 1; i >= 0; i--) {
      const was = previous[i]
      if (was === undefined) delete slots[METHODS[i] as Method]
      else Object.defineProperty(res, METHODS[i] as Method, was)
    }
  }
  const replay = () => {
    let wrote = false
    for (const [i, args] of queue.splice(0)) {
      wrote ||= METHODS[i] === 'write'
      ;(own[i] as Fn).apply(res, args)
    }
    // Held writes answered false; tell waiting streams they may go on.
    if (wrote && !res.writableNeedDrain && !res.writableEnded) res.emit('drain')
  }
  const begin = () => {
    hooks.before().then(
      () => {
        restore()
        replay()
      },
      (err: unknown) => {
        restore()
        queue.length = 0
        hooks.failed(err)
      },
    )
  }

  METHODS.forEach((m, i) => {
    slots[m] = function held(...args: unknown[]) {
      if (!started) {
        started = true
        if (!hooks.needed()) {
          restore()
          hooks.passed?.()
          return (own[i] as Fn).apply(res, args)
        }
        queue.push([i, args])
        begin()
      } else {
        queue.push([i, args])
      }
      return m === 'write' ? false : res
    }
  })

  return new ResponseHold(() => started, () => {
    queue.length = 0
    restore()
  })
}

/**
 * The Hold handles are class instances, never object literals with a getter: a getter
 * closure per request would give each literal a map of its own, which V8 allocates in
 * old space, and anonymous requests paid for that with a full GC every few thousand.
 */
class ResponseHold implements Hold {
  readonly #started: () => boolean
  readonly #cancel: () => void
  constructor(started: () => boolean, cancel: () => void) {
    this.#started = started
    this.#cancel = cancel
  }
  cancel(): void {
    this.#cancel()
  }
  get started(): boolean {
    return this.#started()
  }
}
