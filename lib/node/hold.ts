/**
 * The response hold of Node http and Express, which have no pre-send hook of their own
 * (STYLE.md rule 8): the response's first write calls the request end; when that has
 * a commit to wait for, the response is held until it is done, so Set-Cookie is on it
 * and nothing reaches the client before the session is stored (as SCS wraps its
 * ResponseWriter).
 *
 * Whatever the app does to a held response behaves as it would without the hold:
 * headers given to `writeHead` are checked (and throw) at the call and merge with the
 * session's; `headersSent`/`writableEnded` say what the app did; a held call that
 * throws when replayed goes to the error path; a socket destroyed meanwhile (Express's
 * final handler after `headersSent`) is destroyed once the held response is out.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { SessionHeaders } from '../transport.js'

/** How a held response is released. */
export interface HoldHooks {
  /** The request end: synchronous (headers, usually none) or the commit under way. */
  end(): SessionHeaders | Promise<SessionHeaders>
  /** Merge the session's headers into the response. */
  apply(headers: SessionHeaders): void
  /** The commit, or a held call replayed after it, failed before anything was sent. */
  failed(err: unknown): void
  /** A replayed call failed after bytes were sent: the response is broken. */
  broken(err: unknown): void
}

/** Control of a held response. */
export interface Hold {
  /** True once the response started: its request end is under way or done. */
  readonly started: boolean
}

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders'
const METHODS: readonly Method[] = ['writeHead', 'write', 'end', 'flushHeaders']
type Fn = (this: unknown, ...args: unknown[]) => unknown
type Slots = Record<string, unknown>

/**
 * Hold `res` from its first write until `hooks.end()` settles. Install it before the
 * handler runs, never later: `res.end(render())` looks `end` up before `render()` runs,
 * so a hold installed by a change made inside `render()` would be bypassed.
 */
export function holdResponse(res: ServerResponse, hooks: HoldHooks): Hold {
  const slots = res as unknown as Slots
  const own = METHODS.map((m) => slots[m] as Fn)
  const previous = METHODS.map((m) => Object.getOwnPropertyDescriptor(res, m))
  const hold = new ResponseHold()
  const queue: Array<[number, unknown[]]> = []
  let restored = false
  let waiting = false
  let pretending = false

  const restore = () => {
    if (restored) return
    restored = true
    // Last added, first removed: V8 then returns `res` to its original shape.
    for (let i = METHODS.length - 1; i >= 0; i--) {
      const was = previous[i]
      if (was === undefined) delete slots[METHODS[i] as Method]
      else Object.defineProperty(res, METHODS[i] as Method, was)
    }
  }
  const pretend = (ended: boolean) => {
    if (!pretending) Object.defineProperty(res, 'headersSent', { configurable: true, get: () => true })
    pretending = true
    if (ended) Object.defineProperty(res, 'writableEnded', { configurable: true, get: () => true })
  }
  const unpretend = () => {
    delete slots.writableEnded
    delete slots.headersSent
  }
  const enqueue = (i: number, args: unknown[]) => {
    // Checked now, as Node checks them in writeHead: a bad header throws to the caller.
    const call = METHODS[i] === 'writeHead' ? takeHeaders(res, args) : args
    queue.push([i, call])
    pretend(METHODS[i] === 'end')
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
  const wait = (pending: Promise<SessionHeaders>) => {
    waiting = true
    const destroyLater = deferDestroy(res)
    pending.then(
      (headers) => {
        restore()
        unpretend()
        try {
          if (destroyLater.abandoned()) return
          hooks.apply(headers)
          replay()
        } catch (err) {
          if (res.headersSent) hooks.broken(err)
          else {
            queue.length = 0
            hooks.failed(err)
          }
        } finally {
          destroyLater.release()
        }
      },
      (err: unknown) => {
        restore()
        unpretend()
        queue.length = 0
        destroyLater.release()
        hooks.failed(err)
      },
    )
  }

  METHODS.forEach((m, i) => {
    slots[m] = function held(...args: unknown[]) {
      if (!waiting) {
        hold.started = true
        const out = hooks.end()
        if (!(out instanceof Promise)) {
          restore()
          if (out.length > 0) hooks.apply(out)
          return (own[i] as Fn).apply(res, args)
        }
        wait(out)
      }
      enqueue(i, args)
      return m === 'write' ? false : res
    }
  })
  return hold
}

/**
 * `writeHead(status, [reason], headers)` held: set the headers on `res` now (merging,
 * and throwing where Node would), and leave `writeHead(status, [reason])` to replay.
 * Headers given to writeHead win over earlier `setHeader`s, as in Node; the session's
 * are merged in afterwards.
 */
function takeHeaders(res: ServerResponse, args: unknown[]): unknown[] {
  const [status, second, third] = args
  const reason = typeof second === 'string' ? second : undefined
  const headers = typeof second === 'string' ? third : second
  if (Array.isArray(headers)) {
    const flat = headers as unknown[]
    const seen = new Set<string>()
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = String(flat[i]).toLowerCase()
      const value = flat[i + 1] as string
      if (seen.has(name)) res.appendHeader(name, value)
      else res.setHeader(name, value)
      seen.add(name)
    }
  } else if (headers !== undefined && headers !== null) {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
      if (value !== undefined) res.setHeader(name, value)
    }
  }
  return reason === undefined ? [status] : [status, reason]
}

/**
 * While a response is held, a destroy of its socket by someone else (Express's final
 * handler once `headersSent`) waits until the held response has been written; the
 * app's own `res.destroy()` drops the held response and destroys at once.
 */
function deferDestroy(res: ServerResponse): { release(): void; abandoned(): boolean } {
  const socket = res.socket
  const slots = res as unknown as Slots
  if (socket === null) return { release() {}, abandoned: () => false }
  const sock = socket as unknown as Slots
  const hadOwn = Object.getOwnPropertyDescriptor(socket, 'destroy')
  const hadOwnRes = Object.getOwnPropertyDescriptor(res, 'destroy')
  let asked: unknown[] | undefined
  let dropped = false
  let released = false
  const release = () => {
    if (released) return
    released = true
    if (hadOwn === undefined) delete sock.destroy
    else Object.defineProperty(socket, 'destroy', hadOwn)
    if (hadOwnRes === undefined) delete slots.destroy
    else Object.defineProperty(res, 'destroy', hadOwnRes)
    if (asked === undefined || dropped) return
    const args = asked
    if (res.writableFinished || !res.writableEnded) socket.destroy(...(args as [Error?]))
    else res.once('finish', () => socket.destroy(...(args as [Error?])))
  }
  sock.destroy = (...args: unknown[]) => {
    asked = args
    return socket
  }
  slots.destroy = (...args: unknown[]) => {
    dropped = true
    release()
    return res.destroy(...(args as [Error?]))
  }
  return { release, abandoned: () => dropped }
}

/** A class, not an object literal with a getter: one V8 map for every request. */
class ResponseHold implements Hold {
  started = false
}
