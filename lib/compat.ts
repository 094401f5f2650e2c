/**
 * The express-session / @fastify/session compatible `session` object (opt-in, adapters'
 * `compat` option), runtime-neutral: a Proxy whose property reads and writes are the
 * manager's `get`/`put`/`remove`, so every change is a recorded change and the
 * no-lost-updates guarantee holds. Nested objects changed in place
 * (`req.session.passport.user = id`) are found at `flush()` by comparing the key's
 * encoding with the one it had when first read (docs/decisions.md, issue 19).
 */
import type { SessionManager } from './manager.js'
import { SessionError } from './errors.js'
import { stateOf } from './session.js'

/** Which API the object offers besides property access. */
export type CompatFlavour = 'express' | 'fastify'

type Callback = (err?: unknown) => void

const EXPRESS_METHODS = ['regenerate', 'save', 'reload', 'destroy', 'touch', 'resetMaxAge'] as const
const FASTIFY_METHODS = [...EXPRESS_METHODS, 'get', 'set', 'delete', 'data', 'isModified', 'options'] as const
const READ_ONLY = ['id', 'sessionId', 'cookie', 'encryptedSessionId']

/**
 * One request's compatible session. `object` is what the adapter puts on `req.session`
 * (replaced by `regenerate`); `flush()` must run before the request ends.
 */
export class CompatSession {
  readonly #manager: SessionManager
  readonly #ctx: object
  readonly #flavour: CompatFlavour
  readonly #assign: (value: object | undefined) => void
  /** Keys read through the object whose value is an object: their encoding then. */
  #read = new Map<string, Uint8Array | undefined>()
  /** The object now on the request. */
  object: object

  /**
   * @param assign puts the (new) session object on the request: `req.session = value`
   */
  constructor(manager: SessionManager, ctx: object, flavour: CompatFlavour, assign: (value: object | undefined) => void) {
    this.#manager = manager
    this.#ctx = ctx
    this.#flavour = flavour
    this.#assign = assign
    this.object = this.#make()
    assign(this.object)
  }

  /** Re-put every key read through the object whose value changed in place since. */
  flush(): void {
    for (const [key, before] of this.#read) {
      const value = this.#manager.get(this.#ctx, key)
      const now = this.#encode(value)
      if (before === undefined || now === undefined || !sameBytes(before, now)) {
        if (value !== undefined) this.#manager.put(this.#ctx, key, value)
      }
      this.#read.set(key, now)
    }
  }

  #encode(value: unknown): Uint8Array | undefined {
    try {
      return this.#manager.config.codec.encode({ created: 0, deadline: 0, expiry: 0, values: new Map([['v', value]]) })
    } catch {
      return undefined
    }
  }

  #get(key: string): unknown {
    const value = this.#manager.get(this.#ctx, key)
    if (typeof value === 'object' && value !== null && !this.#read.has(key)) this.#read.set(key, this.#encode(value))
    return value
  }

  #set(key: string, value: unknown): void {
    // JSON (and express-session) drop undefined: it means "no such key".
    if (value === undefined) this.#manager.remove(this.#ctx, key)
    else this.#manager.put(this.#ctx, key, value)
    this.#read.delete(key)
    if (typeof value === 'object' && value !== null) this.#read.set(key, this.#encode(value))
  }

  #remove(key: string): void {
    this.#read.delete(key)
    this.#manager.remove(this.#ctx, key)
  }

  /** A fresh, empty session under a new token; the old token dies at commit. */
  async #regenerate(keep: readonly string[] = []): Promise<void> {
    this.flush()
    const kept = keep.map((k) => [k, this.#manager.get(this.#ctx, k)] as const)
    this.#detach()
    await this.#manager.renewToken(this.#ctx)
    this.#manager.clear(this.#ctx)
    const state = stateOf(this.#manager.session(this.#ctx))
    if (state.user !== undefined) state.setUser(undefined)
    for (const [k, v] of kept) if (v !== undefined) this.#manager.put(this.#ctx, k, v)
    this.object = this.#make()
    this.#assign(this.object)
  }

  async #destroy(): Promise<void> {
    this.#detach()
    this.#assign(undefined)
    await this.#manager.destroy(this.#ctx)
  }

  /** The store's current values with this request's changes on top (nothing is lost). */
  async #reload(): Promise<void> {
    this.flush()
    const token = this.#manager.token(this.#ctx)
    const session = this.#manager.session(this.#ctx)
    if (token === '' || session.isNew) throw new SessionError('ERR_NO_SESSION', 'reload: this session was never saved')
    const stored = await this.#manager.load(token)
    const loaded = stateOf(stored)
    const record = loaded.toRecord(loaded.expiry, this.#manager.config.now())
    await this.#manager.commit(stored)
    if (stored.isNew) throw new SessionError('ERR_NO_SESSION', 'reload: the session is gone from the store')
    stateOf(session).rebase(record)
    this.#read = new Map()
  }

  /** The old object stays readable (passport's keepSessionInfo merges from it); writes to it go nowhere. */
  #detach(): void {
    const snapshot = new Map(this.#manager.keys(this.#ctx).map((k) => [k, this.#manager.get(this.#ctx, k)]))
    const old = this.object as { [DETACH]?: (values: Map<string, unknown>) => void }
    old[DETACH]?.(snapshot)
    this.#read = new Map()
  }

  #cookie(): object {
    const manager = this.#manager
    const ctx = this.#ctx
    const c = manager.config.cookie
    const session = () => stateOf(manager.session(ctx))
    return {
      get maxAge() {
        return Math.max(0, session().expiry - manager.config.now())
      },
      set maxAge(ms: number | null) {
        if (ms === null || ms === undefined) {
          manager.rememberMe(ctx, false)
          return
        }
        manager.rememberMe(ctx, true)
        manager.setDeadline(ctx, new Date(manager.config.now() + ms))
      },
      get expires() {
        return (session().persist ?? c.persist) ? new Date(session().expiry) : null
      },
      set expires(date: Date | null) {
        if (date === null || date === undefined) {
          manager.rememberMe(ctx, false)
          return
        }
        manager.rememberMe(ctx, true)
        manager.setDeadline(ctx, date)
      },
      get originalMaxAge() {
        return manager.config.lifetime
      },
      path: c.path,
      domain: c.domain,
      httpOnly: c.httpOnly,
      secure: c.secure,
      sameSite: c.sameSite,
    }
  }

  #id(): string {
    if (this.#manager.status(this.#ctx) === 'modified') this.#manager.token(this.#ctx)
    return this.#manager.sessionId(this.#ctx)
  }

  #methods(): Record<string, unknown> {
    const done = <T>(work: () => Promise<T>, cb?: Callback, self?: unknown) => {
      const run = work()
      if (cb === undefined) return this.#flavour === 'fastify' ? run : (run.catch(() => {}), self)
      run.then(() => cb(), cb)
      return self
    }
    const self = () => this.object
    const methods: Record<string, unknown> = {
      regenerate: (keys?: string[] | Callback, cb?: Callback) => {
        if (typeof keys === 'function') return done(() => this.#regenerate(), keys, self())
        return done(() => this.#regenerate(keys ?? []), cb, self())
      },
      // The commit happens before the response leaves anyway: save records, and answers.
      save: (cb?: Callback) => done(async () => this.flush(), cb, self()),
      reload: (cb?: Callback) => done(() => this.#reload(), cb, self()),
      destroy: (cb?: Callback) => done(() => this.#destroy(), cb, self()),
      // Idle expiry already slides with every request (idleTimeout).
      touch: () => self(),
      resetMaxAge: () => self(),
    }
    if (this.#flavour === 'fastify') {
      Object.assign(methods, {
        get: (key: string) => this.#get(key),
        set: (key: string, value: unknown) => this.#set(key, value),
        delete: (key?: string) => (key === undefined ? this.#destroy() : this.#remove(key)),
        data: () => Object.fromEntries(this.#manager.keys(this.#ctx).map((k) => [k, this.#get(k)])),
        isModified: () => this.#manager.status(this.#ctx) !== 'unmodified',
        options: () => {},
      })
    }
    return methods
  }

  #make(): object {
    const names: readonly string[] = this.#flavour === 'fastify' ? FASTIFY_METHODS : EXPRESS_METHODS
    const methods = this.#methods()
    let detached: Map<string, unknown> | undefined
    const cookie = this.#cookie()
    const reserved = (key: string) => names.includes(key) || READ_ONLY.includes(key)
    const read = (key: string) => (detached !== undefined ? detached.get(key) : this.#get(key))
    const has = (key: string) => (detached !== undefined ? detached.has(key) : this.#manager.exists(this.#ctx, key))
    const keys = () => (detached !== undefined ? [...detached.keys()] : this.#manager.keys(this.#ctx))
    const target: Record<PropertyKey, unknown> = {}
    return new Proxy(target, {
      get: (_t, key) => {
        if (key === DETACH) return (values: Map<string, unknown>) => (detached = values)
        if (typeof key !== 'string') return undefined
        if (names.includes(key)) return methods[key]
        if (key === 'cookie') return cookie
        if (key === 'id' || key === 'sessionId' || key === 'encryptedSessionId') return detached ? '' : this.#id()
        if (key === 'toJSON') return () => Object.fromEntries(keys().map((k) => [k, read(k)]))
        const value = read(key)
        // `${req.session}`, hasOwnProperty & co. behave as on the plain object express-session gives.
        if (value === undefined && key in Object.prototype) return (Object.prototype as unknown as Record<string, unknown>)[key]
        return value
      },
      set: (_t, key, value) => {
        if (typeof key !== 'string' || reserved(key)) {
          // passport's keepSessionInfo merge may copy `cookie` over: the cookie is the manager's.
          if (key === 'cookie') return true
          throw new SessionError('ERR_UNSUPPORTED', `session.${String(key)} is part of the session API and cannot be set`)
        }
        if (detached !== undefined) {
          this.#manager.config.logger.warn(`session-manager: session.${key} set on a regenerated or destroyed session; not saved`)
          return true
        }
        this.#set(key, value)
        return true
      },
      deleteProperty: (_t, key) => {
        if (typeof key === 'string' && !reserved(key) && detached === undefined) this.#remove(key)
        return true
      },
      has: (_t, key) => typeof key === 'string' && (reserved(key) || has(key)),
      ownKeys: () => keys(),
      getOwnPropertyDescriptor: (_t, key) =>
        typeof key === 'string' && !reserved(key) && has(key)
          ? { value: read(key), writable: true, enumerable: true, configurable: true }
          : undefined,
      defineProperty: () => false,
    })
  }
}

const DETACH = Symbol('session-manager compat detach')

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
