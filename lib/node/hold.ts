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
 *
 * Its state lives in one object per response, not in closures: the hold is on every
 * request's path, and closures per response were 1.2 KB of the 9.3 KB an anonymous
 * request allocated (bench/README.md, "Allocation per request").
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
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
const WRITE_HEAD = 0
const WRITE = 1
const END = 2
const FLUSH_HEADERS = 3
type Fn = (this: unknown, ...args: unknown[]) => unknown
type Slots = Record<string, unknown>

/** One getter for every pretending response: a fresh closure each time would give each its own V8 map. */
const PRETEND: PropertyDescriptor = { configurable: true, get: () => true }

/**
 * Hold `res` from its first write until `hooks.end()` settles. Install it before the
 * handler runs, never later: `res.end(render())` looks `end` up before `render()` runs,
 * so a hold installed by a change made inside `render()` would be bypassed.
 */
export function holdResponse(res: ServerResponse, hooks: HoldHooks): Hold {
  const hold = new ResponseHold(res, hooks)
  const slots = res as unknown as Slots
  // Four small wrappers that close over the hold alone.
  slots.writeHead = function writeHead(...args: unknown[]) {
    return hold.held(WRITE_HEAD, args)
  }
  slots.write = function write(...args: unknown[]) {
    return hold.held(WRITE, args)
  }
  slots.end = function end(...args: unknown[]) {
    return hold.held(END, args)
  }
  slots.flushHeaders = function flushHeaders(...args: unknown[]) {
    return hold.held(FLUSH_HEADERS, args)
  }
  return hold
}

/** A held response: a class, not closures, so every request's hold is one object of one V8 map. */
class ResponseHold implements Hold {
  started = false
  readonly #res: ServerResponse
  readonly #hooks: HoldHooks
  /** The methods the wrappers stand in for, as they were at install. */
  readonly #own: Fn[]
  /** Own properties the wrappers replaced (another wrapper's, installed before); undefined when none (the usual case). */
  readonly #previous: Array<PropertyDescriptor | undefined> | undefined
  #previousDestroy: PropertyDescriptor | undefined
  /** Held calls, by method index, to replay once the commit is done. */
  #queue: Array<[number, unknown[]]> | undefined
  #restored = false
  #waiting = false
  #pretending = false
  /** While held: the socket whose `destroy` is put off until the held response is out. */
  #socket: Socket | undefined
  #socketDestroy: PropertyDescriptor | undefined
  /** A socket destroy asked for while held (Express's final handler once `headersSent`). */
  #asked: unknown[] | undefined
  /** The app destroyed the held response: it is dropped, and destroyed at once. */
  #dropped = false
  #unwrapped = false

  constructor(res: ServerResponse, hooks: HoldHooks) {
    this.#res = res
    this.#hooks = hooks
    const slots = res as unknown as Slots
    this.#own = [slots.writeHead as Fn, slots.write as Fn, slots.end as Fn, slots.flushHeaders as Fn]
    if (Object.hasOwn(res, 'writeHead') || Object.hasOwn(res, 'write') || Object.hasOwn(res, 'end') || Object.hasOwn(res, 'flushHeaders')) {
      this.#previous = METHODS.map((m) => Object.getOwnPropertyDescriptor(res, m))
    }
  }

  /** A wrapped method was called: the first call ends the request, and the calls are held while its commit runs. */
  held(i: number, args: unknown[]): unknown {
    const res = this.#res
    if (!this.#waiting) {
      this.started = true
      const out = this.#hooks.end()
      if (!(out instanceof Promise)) {
        this.#restore()
        if (out.length > 0) this.#hooks.apply(out)
        return (this.#own[i] as Fn).apply(res, args)
      }
      this.#wait(out)
    }
    this.#enqueue(i, args)
    return i === WRITE ? false : res
  }

  /** `res.destroy()` by the app while held drops the held response and destroys at once. */
  destroy(args: unknown[]): unknown {
    this.#dropped = true
    this.#releaseDestroy()
    return this.#res.destroy(...(args as [Error?]))
  }

  #restore(): void {
    if (this.#restored) return
    this.#restored = true
    const slots = this.#res as unknown as Slots
    const previous = this.#previous
    // Last added, first removed: V8 then returns `res` to its original shape.
    for (let i = METHODS.length - 1; i >= 0; i--) {
      const was = previous?.[i]
      if (was === undefined) delete slots[METHODS[i] as Method]
      else Object.defineProperty(this.#res, METHODS[i] as Method, was)
    }
  }

  #unwrapDestroy(): void {
    if (this.#unwrapped || this.#socket === undefined) return
    this.#unwrapped = true
    if (this.#previousDestroy === undefined) delete (this.#res as unknown as Slots).destroy
    else Object.defineProperty(this.#res, 'destroy', this.#previousDestroy)
  }

  #pretend(ended: boolean): void {
    if (!this.#pretending) Object.defineProperty(this.#res, 'headersSent', PRETEND)
    this.#pretending = true
    if (ended) Object.defineProperty(this.#res, 'writableEnded', PRETEND)
  }

  #unpretend(): void {
    const slots = this.#res as unknown as Slots
    delete slots.writableEnded
    delete slots.headersSent
  }

  #enqueue(i: number, args: unknown[]): void {
    // Checked now, as Node checks them in writeHead: a bad header throws to the caller.
    const call = i === WRITE_HEAD ? takeHeaders(this.#res, args) : args
    ;(this.#queue ??= []).push([i, call])
    this.#pretend(i === END)
  }

  #replay(): void {
    const res = this.#res
    const queue = this.#queue
    this.#queue = undefined
    if (queue === undefined) return
    let wrote = false
    for (const [i, args] of queue) {
      wrote ||= i === WRITE
      ;(this.#own[i] as Fn).apply(res, args)
    }
    // Held writes answered false; tell waiting streams they may go on.
    if (wrote && !res.writableNeedDrain && !res.writableEnded) res.emit('drain')
  }

  #wait(pending: Promise<SessionHeaders>): void {
    this.#waiting = true
    this.#deferDestroy()
    pending.then(
      (headers) => this.#release(headers),
      (err: unknown) => this.#fail(err),
    )
  }

  /** The commit is done: out with the session's headers and the held calls. */
  #release(headers: SessionHeaders): void {
    const res = this.#res
    // Last added, first removed, and all before the replay, which adds properties of its
    // own (statusCode): a removal out of that order turns `res` into a dictionary (3.3 KB of S3).
    this.#unpretend()
    this.#unwrapDestroy()
    this.#restore()
    try {
      if (this.#dropped) return
      this.#hooks.apply(headers)
      this.#replay()
    } catch (err) {
      if (res.headersSent) this.#hooks.broken(err)
      else {
        this.#queue = undefined
        this.#hooks.failed(err)
      }
    } finally {
      this.#releaseDestroy()
    }
  }

  #fail(err: unknown): void {
    this.#unpretend()
    this.#unwrapDestroy()
    this.#restore()
    this.#queue = undefined
    this.#releaseDestroy()
    this.#hooks.failed(err)
  }

  /**
   * While the response is held, a destroy of its socket by someone else (Express's final
   * handler once `headersSent`) waits until the held response has been written; the
   * app's own `res.destroy()` drops the held response and destroys at once.
   */
  #deferDestroy(): void {
    const socket = this.#res.socket
    if (socket === null) return
    this.#socket = socket
    this.#socketDestroy = Object.getOwnPropertyDescriptor(socket, 'destroy')
    ;(socket as unknown as Slots).destroy = (...args: unknown[]) => {
      // The response destroyed itself (the app, once its own wrapper is gone for the replay): at once.
      if (this.#res.destroyed && this.#unwrapped) {
        this.#dropped = true
        this.#releaseDestroy()
        return socket.destroy(...(args as [Error?]))
      }
      this.#asked = args
      return socket
    }
    const res = this.#res
    this.#previousDestroy = Object.getOwnPropertyDescriptor(res, 'destroy')
    ;(res as unknown as Slots).destroy = (...args: unknown[]) => this.destroy(args)
  }

  /** Let destroys through again; one asked for meanwhile happens now (or once the held response is out). */
  #releaseDestroy(): void {
    this.#unwrapDestroy()
    const socket = this.#socket
    if (socket === undefined) return
    this.#socket = undefined
    if (this.#socketDestroy === undefined) delete (socket as unknown as Slots).destroy
    else Object.defineProperty(socket, 'destroy', this.#socketDestroy)
    const args = this.#asked
    if (args === undefined || this.#dropped) return
    const res = this.#res
    if (res.writableFinished || !res.writableEnded) socket.destroy(...(args as [Error?]))
    else res.once('finish', () => socket.destroy(...(args as [Error?])))
  }
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
