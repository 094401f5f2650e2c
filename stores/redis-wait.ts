/**
 * `waitReplicas` without stalling the process: the writes that must be acknowledged by
 * replicas go out on a connection of their own (`client.duplicate()`), so a WAIT that
 * blocks — a replica gone — never holds the reads and other commands of the store's
 * client.
 *
 * On a standalone or Sentinel-configured client the WAITs are grouped: WAIT covers every
 * write sent before it on its connection, so one WAIT answers all the writes queued since
 * the last one, and while one WAIT is in flight the writes sent meanwhile wait for the
 * next (at most one in flight, one gathering). A write therefore learns its fate within
 * two `waitTimeout`s however many are queued, where one WAIT per write would queue them
 * one `waitTimeout` each. On a Cluster each write is followed by its own WAIT in one
 * pipeline (WAIT must reach the node owning the key), on the duplicate connections.
 */
import type { ChainableCommander, Cluster, Redis } from 'ioredis'
import { isNoScript, type RedisClient, type Script, send, shortfall, type Wait } from './redis-scripts.js'

/** A pending WAIT: the writes gathered for it learn how many replicas acknowledged them. */
interface Gathering {
  promise: Promise<number>
  resolve: (acked: number) => void
  reject: (err: unknown) => void
}

function gathering(): Gathering {
  let resolve!: (acked: number) => void
  let reject!: (err: unknown) => void
  const promise = new Promise<number>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A write that failed never awaits its WAIT: its rejection must not go unhandled.
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}

/** The durable writes of one RedisStore. */
export class DurableWrites {
  #conn: RedisClient | undefined
  #next: Gathering | undefined
  #inFlight = false

  constructor(private readonly client: RedisClient, private readonly wait: Wait) {}

  /** Send one write built by `add`; resolves to its reply once enough replicas have it (a nil reply: nothing written, no wait). */
  async command(operation: string, add: (target: ChainableCommander) => unknown): Promise<unknown> {
    const conn = this.#connection()
    if (conn.isCluster) return send(conn, add, this.wait, operation)
    // On a client (not a pipeline) a command is its reply's promise.
    const reply = add(conn as unknown as ChainableCommander) as Promise<unknown>
    const acked = this.#join()
    return this.#settle(operation, await reply, acked)
  }

  /**
   * Run a write script by EVALSHA, or EVAL when the server lacks it; resolves as
   * {@link command}. The EVAL goes out after the WAIT its EVALSHA joined, so it joins one
   * of its own.
   */
  async script(operation: string, lua: Script, keys: readonly string[], args: Array<string | Buffer>): Promise<unknown> {
    try {
      return await this.command(operation, (c) => c.evalsha(lua.sha, keys.length, ...keys, ...args))
    } catch (err) {
      if (!isNoScript(err)) throw err
      return this.command(operation, (c) => c.eval(lua.lua, keys.length, ...keys, ...args))
    }
  }

  /** The connection for durable writes (made on first use; `close()` ends it). */
  connection(): RedisClient {
    return this.#connection()
  }

  /** End the write connection (never the client given to the store). */
  async close(): Promise<void> {
    const conn = this.#conn
    this.#conn = undefined
    if (conn === undefined) return
    await conn.quit().catch(() => undefined)
    // QUIT alone leaves a Sentinel client's failover-detector connections open.
    conn.disconnect()
  }

  #connection(): RedisClient {
    if (this.#conn === undefined) {
      // A WAIT may block up to waitTimeout, and a write may wait behind one in flight.
      const commandTimeout = Math.max((this.client.options as { commandTimeout?: number }).commandTimeout ?? 0, 2 * this.wait.timeout + 1000)
      this.#conn = this.client.isCluster
        ? (this.client as Cluster).duplicate(undefined, { redisOptions: { ...(this.client as Cluster).options.redisOptions, commandTimeout } })
        : (this.client as Redis).duplicate({ commandTimeout })
      // Its errors reach the commands sent on it; an 'error' event must never go unhandled.
      this.#conn.on('error', () => undefined)
      // It lives as long as the client it was made from: quitting that one ends this too,
      // so a process that ends its client is never held open by the store's connection.
      const conn = this.#conn
      this.client.once('end', () => {
        if (this.#conn === conn) void this.close()
      })
    }
    return this.#conn
  }

  /** The WAIT that will cover a write just sent: the gathering one, sent when none is in flight. */
  #join(): Promise<number> {
    if (this.#next === undefined) {
      this.#next = gathering()
      if (!this.#inFlight) queueMicrotask(() => this.#flush())
    }
    return this.#next.promise
  }

  #flush(): void {
    const batch = this.#next
    if (batch === undefined || this.#inFlight) return
    this.#next = undefined
    this.#inFlight = true
    const conn = this.#conn as Redis
    conn.wait(this.wait.replicas, this.wait.timeout).then(
      (acked) => batch.resolve(Number(acked)),
      (err: unknown) => batch.reject(err),
    ).finally(() => {
      this.#inFlight = false
      if (this.#next !== undefined) this.#flush()
    })
  }

  #settle(operation: string, reply: unknown, acked: Promise<number>): Promise<unknown> {
    // A conflict (nil reply) wrote nothing, so there is nothing to lose either.
    if (reply === null) return Promise.resolve(null)
    return acked.then((n) => {
      const short = shortfall(operation, n, this.wait)
      if (short !== undefined) throw short
      return reply
    })
  }
}
