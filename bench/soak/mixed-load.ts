/**
 * The failover soak's client: browsers with sessions of their own, driven over
 * keep-alive connections against bench/soak/server.ts, and the ledger of what the
 * server acknowledged to each of them.
 *
 * Each connection has its own browsers and sends one request at a time, so a
 * browser's requests never overlap (as with a real user) and every answer can be
 * checked against the browser's ledger: the counter `n` the server answers after a
 * read, login or renewal must equal the last acknowledged `n`, after a write that + 1.
 * Less is a **lost** acknowledged write, more a **doubled** one. A failed request
 * (non-200, connection error, timeout) leaves the browser *uncertain* until its next
 * answer: a failed write may or may not have been applied (so up to one more per failed
 * write is no double), and a failed login or destroy may have ended the session (then
 * the next answer is an **orphaned** session, counted apart — the request failed, no
 * acknowledged write was lost).
 *
 * The mix: 10% S1 (no cookie, the handler does not touch the session); for a browser
 * with a session 50% S2 read, 30% S3 write, 8% login, 4% renewToken, 4% destroy (log
 * out), 4% revoke (log out everywhere); a browser without one sends S4 (its first write
 * makes a new session).
 */
import { Agent, request } from 'node:http'

export type Route = 's1' | 's2' | 's3' | 's4' | 'login' | 'renew' | 'destroy' | 'revoke'

export interface Reply {
  status: number
  body: string
  /** The session cookie after this answer: a new `name=value`, '' when expired, undefined when not set. */
  cookie: string | undefined
}

/** One GET; rejects on a connection error or after `timeoutMs`. */
export function get(base: string, path: string, cookie: string, agent: Agent | false, timeoutMs = 15_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { agent, headers: cookie === '' ? {} : { cookie }, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => {
        let next: string | undefined
        for (const line of res.headers['set-cookie'] ?? []) {
          next = /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(line) ? '' : line.split(';')[0]
        }
        resolve({ status: res.statusCode ?? 0, body, cookie: next })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

interface Browser {
  user: string
  cookie: string
  /** The last `n` the server acknowledged. */
  acked: number
  loggedIn: boolean
  /** Requests that failed since the last answer; how many of them were writes, and logins, renewals or destroys. */
  failed: number
  failedWrites: number
  failedEnders: number
}

/** What the ledger found. */
export interface Ledger {
  /** Acknowledged writes the server answered (200 to S3/S4). */
  acknowledged: number
  /** Acknowledged writes missing from a later answer (n below the ledger). */
  lost: number
  /** Writes applied more often than sent (n above the ledger, failed writes allowed for). */
  doubled: number
  /** Sessions gone after a failed request of their own (a failed login, renewal or destroy). */
  orphaned: number
  /** Examples of the first inconsistencies, for the report. */
  examples: string[]
}

/** A completed request, for the per-minute figures. */
export interface Done {
  route: Route
  start: number
  ms: number
  ok: boolean
  /** Why it failed: the status or the error message. */
  why?: string
}

export interface LoadOptions {
  base: string
  connections: number
  /** Browsers per connection. */
  browsersPerConnection: number
  /** Distinguishes the user ids of runs sharing a store. */
  runId: string
  onDone: (d: Done) => void
}

/** The browsers and their ledger; `run` drives them until `stop()`. */
export class MixedLoad {
  readonly ledger: Ledger = { acknowledged: 0, lost: 0, doubled: 0, orphaned: 0, examples: [] }
  readonly #o: LoadOptions
  readonly #agent: Agent
  readonly #browsers: Browser[][]
  #stopped = false

  constructor(o: LoadOptions) {
    this.#o = o
    this.#agent = new Agent({ keepAlive: true, maxSockets: o.connections })
    this.#browsers = Array.from({ length: o.connections }, (_, c) =>
      Array.from({ length: o.browsersPerConnection }, (_, b) => ({
        user: `${o.runId}-${c}-${b}`, cookie: '', acked: 0, loggedIn: false, failed: 0, failedWrites: 0, failedEnders: 0,
      })),
    )
  }

  /** Drive every connection until `stop()`. */
  run(): Promise<void> {
    this.#stopped = false
    return Promise.all(this.#browsers.map((own) => this.#connection(own))).then(() => undefined)
  }

  stop(): void {
    this.#stopped = true
  }

  /** Read every browser's session back (S2) and check it against the ledger; resolves to the sessions read. */
  async readBack(): Promise<number> {
    let read = 0
    await Promise.all(
      this.#browsers.map(async (own) => {
        for (const b of own) {
          if (b.cookie === '' && b.failed === 0) continue
          for (let attempt = 0; ; attempt++) {
            try {
              await this.#send(b, 's2', '/read', b.acked)
              read++
              break
            } catch (err) {
              if (attempt === 5) throw new Error(`read-back of ${b.user} failed 6 times: ${(err as Error).message}`)
            }
          }
        }
      }),
    )
    return read
  }

  close(): void {
    this.#agent.destroy()
  }

  async #connection(own: Browser[]): Promise<void> {
    while (!this.#stopped) {
      if (Math.random() < 0.1) {
        await this.#anonymous()
        continue
      }
      const b = own[Math.floor(Math.random() * own.length)] as Browser
      const r = Math.random()
      let route: Route
      let path: string
      let expected: number
      if (b.cookie === '') [route, path, expected] = ['s4', '/write', 1]
      else if (r < 0.5) [route, path, expected] = ['s2', '/read', b.acked]
      else if (r < 0.8) [route, path, expected] = ['s3', '/write', b.acked + 1]
      else if (r < 0.88) [route, path, expected] = ['login', `/login?user=${b.user}`, b.acked]
      else if (r < 0.92) [route, path, expected] = ['renew', '/renew', b.acked]
      else if (r < 0.96) [route, path, expected] = ['destroy', '/destroy', 0]
      else [route, path, expected] = ['revoke', b.loggedIn ? '/revoke' : '/destroy', 0]
      await this.#send(b, route, path, expected).catch(() => {})
    }
  }

  /** S1: no cookie, the handler reads nothing; the answer must be 0 and set no cookie. */
  async #anonymous(): Promise<void> {
    const start = performance.now()
    try {
      const reply = await get(this.#o.base, '/read', '', this.#agent)
      const ok = reply.status === 200 && reply.body === '0' && reply.cookie === undefined
      this.#o.onDone({ route: 's1', start, ms: performance.now() - start, ok, ...(ok ? {} : { why: `S1 answered ${reply.status} ${reply.body.slice(0, 60)}` }) })
    } catch (err) {
      this.#o.onDone({ route: 's1', start, ms: performance.now() - start, ok: false, why: (err as Error).message })
    }
  }

  /** One request of `b`, checked against its ledger; rejects when it failed. */
  async #send(b: Browser, route: Route, path: string, expected: number): Promise<void> {
    const start = performance.now()
    const write = route === 's3' || route === 's4'
    let reply: Reply
    try {
      reply = await get(this.#o.base, path, b.cookie, this.#agent)
      if (reply.status !== 200) throw new Error(`status ${reply.status}`)
    } catch (err) {
      b.failed++
      if (write) b.failedWrites++
      else if (route !== 's2') b.failedEnders++
      this.#o.onDone({ route, start, ms: performance.now() - start, ok: false, why: (err as Error).message })
      throw err
    }
    this.#o.onDone({ route, start, ms: performance.now() - start, ok: true })
    if (reply.cookie !== undefined) b.cookie = reply.cookie
    if (route === 'destroy' || route === 'revoke') {
      b.cookie = ''
      b.acked = 0
      b.loggedIn = false
    } else {
      this.#check(b, route, Number(reply.body), expected)
      b.acked = Number(reply.body)
      if (route === 'login') b.loggedIn = true
      if (write) this.ledger.acknowledged++
      // A read that found no session (after a failed request ended it) leaves none.
      if (!write && b.acked === 0) b.cookie = ''
    }
    b.failed = 0
    b.failedWrites = 0
    b.failedEnders = 0
  }

  #check(b: Browser, route: Route, n: number, expected: number): void {
    const l = this.ledger
    const note = (what: string) => {
      if (l.examples.length < 20) l.examples.push(`${b.user} ${route}: answered n=${n}, ledger ${expected}${b.failed > 0 ? ` (${b.failed} failed before, ${b.failedWrites} writes)` : ''}: ${what}`)
    }
    if (b.failed === 0) {
      if (n < expected) (l.lost += expected - n), note('lost')
      else if (n > expected) (l.doubled += n - expected), note('doubled')
      return
    }
    // Uncertain: each failed write may have been applied once; a failed login, renewal
    // or destroy may have ended the session (the answer is then a new session's, or 0).
    const fresh = route === 's3' || route === 's4' ? 1 : 0
    if (n > expected + b.failedWrites) (l.doubled += n - expected - b.failedWrites), note('doubled')
    else if (n < expected) {
      if (n === fresh && b.failedEnders > 0) (l.orphaned++), note('orphaned')
      else (l.lost += expected - n), note('lost')
    }
  }
}
