/**
 * A real HTTP server on a loopback port and a small client with a cookie jar, for
 * tests that go through the network like a browser would.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** The part of a SessionManager the counter app uses (kept structural: no import of lib here). */
interface Counting {
  loadAndSave(handler: (req: IncomingMessage, res: ServerResponse) => unknown): RequestListener
  put(ctx: object, key: 'n', value: number): void
  getNumber(ctx: object, key: 'n'): number
}

/**
 * The counter app of the store tests: `GET /put` adds one to `n`, every path answers
 * `format(n)` (default `n=<n>`).
 */
export function counterApp(manager: Counting, format: (n: number) => string = (n) => `n=${n}`): RequestListener {
  return manager.loadAndSave((req, res) => {
    if (req.url === '/put') manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
    res.end(format(manager.getNumber(req, 'n')))
  })
}

/** A listening server and how to reach and stop it. */
export interface Running {
  url: string
  server: Server
  close(): Promise<void>
}

/** Listen on 127.0.0.1 with an OS-chosen port. */
export async function listen(handler: RequestListener | Server): Promise<Running> {
  const server = typeof handler === 'function' ? createServer(handler) : handler
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return running(server)
}

/** A server already listening on 127.0.0.1, as a `Running` (its URL, and a close that drops keep-alive connections). */
export function running(server: Server): Running {
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** One response, read whole. */
export interface Reply {
  status: number
  body: string
  headers: Headers
  /** Every Set-Cookie header line. */
  setCookies: string[]
}

/**
 * A browser-like client: keeps the cookies it is given (honouring Max-Age=0 / past
 * Expires as deletion) and sends them back.
 */
export class Client {
  readonly jar = new Map<string, string>()

  /** `userAgent` is sent as User-Agent on every request when given. */
  constructor(
    readonly base: string,
    readonly userAgent?: string,
  ) {}

  /** The `Cookie` header this client would send. */
  get cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  async request(path: string, init: RequestInit = {}): Promise<Reply> {
    const headers = new Headers(init.headers)
    if (this.jar.size > 0 && !headers.has('cookie')) headers.set('cookie', this.cookieHeader)
    if (this.userAgent !== undefined) headers.set('user-agent', this.userAgent)
    const res = await fetch(this.base + path, { ...init, headers, redirect: 'manual' })
    const body = await res.text()
    const setCookies = res.headers.getSetCookie()
    for (const line of setCookies) this.#remember(line)
    return { status: res.status, body, headers: res.headers, setCookies }
  }

  get(path: string, init?: RequestInit): Promise<Reply> {
    return this.request(path, init)
  }

  #remember(line: string): void {
    const [pair = '', ...attrs] = line.split(';').map((s) => s.trim())
    const eq = pair.indexOf('=')
    const name = pair.slice(0, eq)
    const value = pair.slice(eq + 1)
    const expired = attrs.some((a) => {
      const [k = '', v = ''] = a.split('=')
      if (k.toLowerCase() === 'max-age') return Number(v) <= 0
      if (k.toLowerCase() === 'expires') return new Date(v).getTime() <= Date.now()
      return false
    })
    if (expired || value === '') this.jar.delete(name)
    else this.jar.set(name, value)
  }
}
