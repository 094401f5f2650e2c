import type { ServerResponse } from 'node:http'

/** How a held response is released. */
export interface HoldHooks {
  /** Synchronous check: is there anything to do before the first byte leaves? */
  needed(): boolean
  /** The async work (the commit, then setting headers) to finish before sending. */
  before(): Promise<void>
  /** `before` failed: the held writes are dropped; answer the request instead. */
  failed(err: unknown): void
}

/** Control of a held response. */
export interface Hold {
  /** Restore the response's own methods without committing (the handler failed). */
  cancel(): void
  /** True once the first write arrived and the commit started or finished. */
  readonly started: boolean
}

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders'
const METHODS: Method[] = ['writeHead', 'write', 'end', 'flushHeaders']

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
 */
export function holdResponse(res: ServerResponse, hooks: HoldHooks): Hold {
  const own = new Map<Method, (...args: unknown[]) => unknown>()
  const previous = new Map<Method, PropertyDescriptor | undefined>()
  for (const m of METHODS) {
    own.set(m, (res[m] as (...args: unknown[]) => unknown).bind(res))
    previous.set(m, Object.getOwnPropertyDescriptor(res, m))
  }
  let started = false
  let restored = false
  const queue: Array<[Method, unknown[]]> = []

  const restore = () => {
    if (restored) return
    restored = true
    for (const m of METHODS) {
      // Put back exactly what was there: another middleware may have wrapped it too.
      const was = previous.get(m)
      if (was === undefined) delete (res as unknown as Record<string, unknown>)[m]
      else Object.defineProperty(res, m, was)
    }
  }
  const replay = () => {
    const wrote = queue.some(([m]) => m === 'write')
    for (const [m, args] of queue.splice(0)) own.get(m)?.(...args)
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

  for (const m of METHODS) {
    ;(res as unknown as Record<string, unknown>)[m] = function held(...args: unknown[]) {
      if (!started) {
        started = true
        if (!hooks.needed()) {
          restore()
          return own.get(m)?.(...args)
        }
        queue.push([m, args])
        begin()
      } else {
        queue.push([m, args])
      }
      return m === 'write' ? false : res
    }
  }

  return {
    cancel() {
      queue.length = 0
      restore()
    },
    get started() {
      return started
    },
  }
}
