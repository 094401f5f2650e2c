/**
 * The client side: single requests with a cookie (to obtain sessions and to check
 * results) and autocannon load runs (from the harness process, so client and server
 * are different processes).
 */
import { Agent, request } from 'node:http'
import autocannon from 'autocannon'

export interface Reply {
  status: number
  body: string
  /** `name=value` pairs of every Set-Cookie, joined as a Cookie header ('' when none). */
  setCookie: string
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 })

/** GET `path` on 127.0.0.1:`port`. `agent: false`: a connection of its own. */
export function get(port: number, path: string, cookie = '', agent: Agent | false = keepAlive): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent, headers: cookie === '' ? {} : { cookie }, timeout: 10_000 },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => {
          // As a browser keeps them: a later Set-Cookie of the same name replaces an earlier one
          // (hono-sessions' cookie store sends two per new session).
          const jar = new Map((res.headers['set-cookie'] ?? []).map((c) => {
            const pair = c.split(';')[0] as string
            return [pair.slice(0, pair.indexOf('=')), pair] as const
          }))
          const setCookie = [...jar.values()].join('; ')
          resolve({ status: res.statusCode ?? 0, body, setCookie })
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

/** `count` sessions, each from a cookie-less `/s3` (the session then holds n = 1). */
export async function newSessions(port: number, count: number): Promise<string[]> {
  const cookies: string[] = []
  for (let i = 0; i < count; i++) {
    const r = await get(port, '/s3')
    if (r.status !== 200 || r.setCookie === '') throw new Error(`/s3 gave no session (status ${r.status}, body ${r.body.slice(0, 80)})`)
    cookies.push(r.setCookie)
  }
  return cookies
}

export interface LoadResult {
  /** Successful (2xx) responses per second. */
  rps: number
  /** 99th percentile latency, ms. */
  p99: number
  /** 2xx responses. */
  ok: number
  /** non-2xx responses, connection errors and timeouts. */
  failed: number
  /** Seconds the run took. */
  seconds: number
}

export interface LoadOptions {
  port: number
  path: string
  seconds?: number
  /** Stop after this many requests instead of after `seconds`. */
  amount?: number
  connections: number
  /** Cookies used round robin, one per request: each request reads its own session. */
  cookies?: string[]
}

/** One autocannon run. */
export async function load(o: LoadOptions): Promise<LoadResult> {
  const cookies = o.cookies ?? []
  let next = 0
  const requests: autocannon.Request[] | undefined =
    cookies.length === 0
      ? undefined
      : [
          {
            method: 'GET',
            path: o.path,
            setupRequest: (req) => ({ ...req, headers: { ...req.headers, cookie: cookies[next++ % cookies.length] as string } }),
          },
        ]
  const result = await autocannon({
    url: `http://127.0.0.1:${o.port}${o.path}`,
    connections: o.connections,
    pipelining: 1,
    ...(o.amount === undefined ? { duration: o.seconds ?? 5 } : { amount: o.amount }),
    ...(requests === undefined ? {} : { requests }),
  })
  const ok = result['2xx']
  return {
    rps: ok / result.duration,
    p99: result.latency.p99,
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    seconds: result.duration,
  }
}
