/**
 * Routes for the concurrency tests, the same in one process and across processes
 * (test/fixtures/user-app.ts serves them under /race/). Every route first waits
 * `?wait=` ms — after the session was loaded, before it is committed — so tests can
 * make requests of one session overlap in a known order. Each answers the session's
 * state as JSON: `{ user, n, keys, pid }`.
 *
 * - `/inc`: `increment(n)`        - `/rmw`: `put(n, getNumber(n) + 1)` (what peers do)
 * - `/cart?item=`: `update(cart)` - `/put?k=&v=`: `put(k, v)`
 * - `/login?user=`: `login(user)` - `/state`: nothing
 * - `/conflicts`: how many `conflict` events this manager emitted (a number)
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SessionManager } from '../../lib/index.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** `conflict` events per manager, counted from its first race request on. */
const conflicts = new WeakMap<SessionManager, number>()

/** Handle a race route on `m` (the session is loaded); `path` without the /race prefix. */
export async function raceRoute(m: SessionManager, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(path, 'http://x')
  const q = (name: string) => url.searchParams.get(name) ?? ''
  if (!conflicts.has(m)) {
    conflicts.set(m, 0)
    m.on('conflict', () => conflicts.set(m, (conflicts.get(m) ?? 0) + 1))
  }
  if (url.pathname === '/conflicts') return void res.end(String(conflicts.get(m)))
  const wait = Number(q('wait') || 0)
  if (wait > 0) await sleep(wait)
  switch (url.pathname) {
    case '/inc':
      m.increment(req, 'n')
      break
    case '/rmw':
      m.put(req, 'n', m.getNumber(req, 'n') + 1)
      break
    case '/cart':
      m.update(req, 'cart', (cart) => [...((cart as string[] | undefined) ?? []), q('item')])
      break
    case '/put':
      m.put(req, q('k'), q('v'))
      break
    case '/login':
      await m.login(req, q('user'))
      break
  }
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ user: m.userId(req) ?? null, n: m.getNumber(req, 'n'), keys: m.keys(req), cart: m.get(req, 'cart') ?? [], pid: process.pid }))
}
