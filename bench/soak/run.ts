/**
 * Memory soak of the request end (issue 12): N requests (default 1,000,000) over
 * S rotating sessions (default 100,000) — 70% reads, 20% writes, 5% logins, 5%
 * destroys — against bench/soak/server.ts on the memory store and on Redis, 32
 * keep-alive connections. Heap after a full GC is read fresh, after the first 10% of
 * the requests, at the end, and (memory store) once every session has expired and
 * been swept. "Fresh" is after a warm-up of 3,000 requests whose sessions are all
 * destroyed: compiled code, no session. Not a test: run it by hand, `npm run build` first.
 *
 *   node --import tsx bench/soak/run.ts [--requests 1000000] [--sessions 100000] [--stores memory,redis]
 */
import { spawn } from 'node:child_process'
import { Agent, request } from 'node:http'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000000' },
    sessions: { type: 'string', default: '100000' },
    stores: { type: 'string', default: 'memory,redis' },
    lifetime: { type: 'string', default: '30000' },
  },
})
const total = Number(values.requests)
const sessions = Number(values.sessions)
const lifetime = Number(values.lifetime)
const agent = new Agent({ keepAlive: true, maxSockets: 32 })

function get(base: string, path: string, cookie?: string): Promise<{ body: string; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { agent, headers: cookie === undefined ? {} : { cookie } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ body, setCookie: res.headers['set-cookie'] ?? [] }))
    })
    req.on('error', reject)
    req.end()
  })
}

const heap = async (base: string) => JSON.parse((await get(base, '/__heap')).body) as { heapUsed: number; rss: number; inFlight: number }
const mb = (n: number) => (n / 1048576).toFixed(1)

async function soak(store: string) {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/soak/server.ts'], {
    env: { ...process.env, SOAK_STORE: store, SOAK_LIFETIME_MS: String(lifetime) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const base = await new Promise<string>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      const m = /ready (\S+)/.exec(d.toString())
      if (m?.[1] !== undefined) resolve(m[1])
    })
  })
  const jar: Array<string | undefined> = new Array(sessions)
  // Warm-up: every code path once, leaving no session behind (each is destroyed), so
  // "fresh" is a process that has compiled its code but holds no session.
  for (let i = 0; i < 500; i++) {
    let cookie: string | undefined
    for (const path of ['/write', '/read', '/login', '/write', '/destroy']) {
      const reply = await get(base, path, cookie)
      const line = reply.setCookie[0]
      if (line !== undefined) cookie = /Max-Age=0/.test(line) ? undefined : line.split(';')[0]
    }
    await get(base, '/read')
  }
  const fresh = await heap(base)
  let done = 0
  let failed = 0
  let early: Awaited<ReturnType<typeof heap>> | undefined
  const started = Date.now()
  const worker = async () => {
    while (done < total) {
      const i = done++
      const slot = Math.floor(Math.random() * sessions)
      const r = Math.random()
      const path = r < 0.7 ? '/read' : r < 0.9 ? '/write' : r < 0.95 ? '/login' : '/destroy'
      try {
        const reply = await get(base, path, jar[slot])
        for (const line of reply.setCookie) {
          const pair = line.split(';')[0] ?? ''
          jar[slot] = /Max-Age=0/.test(line) ? undefined : pair
        }
      } catch {
        failed++
      }
      if (i === Math.floor(total / 10) - 1) early = await heap(base)
    }
  }
  await Promise.all(Array.from({ length: 32 }, worker))
  const seconds = (Date.now() - started) / 1000
  const end = await heap(base)
  let swept: Awaited<ReturnType<typeof heap>> | undefined
  if (store === 'memory') {
    await new Promise((r) => setTimeout(r, lifetime + 3000))
    swept = await heap(base)
  }
  child.kill()
  const e = early ?? end
  console.log(
    JSON.stringify({
      store, requests: total, sessions, seconds, rps: Math.round(total / seconds), failed,
      heapMB: { fresh: mb(fresh.heapUsed), after10pct: mb(e.heapUsed), end: mb(end.heapUsed), afterExpiry: swept && mb(swept.heapUsed) },
      endVsEarly: `${(((end.heapUsed - e.heapUsed) / e.heapUsed) * 100).toFixed(1)}%`,
      sweptVsFresh: swept && `${(((swept.heapUsed - fresh.heapUsed) / fresh.heapUsed) * 100).toFixed(1)}%`,
      inFlightAtEnd: end.inFlight,
    }),
  )
}

for (const store of values.stores.split(',')) await soak(store)
agent.destroy()
