/**
 * fetchHandler and the Hono middleware under Bun (Bun.serve) and Deno (Deno.serve),
 * each app a child process running the TypeScript sources (test/runtimes/app.ts),
 * driven over real HTTP from here: memory and cookie stores on both, Redis on Bun —
 * sharing one session with the Express app of the sharing test, running here on Node.
 * The runtimes come from scripts/up-runtimes.sh (a private dir, not dependencies).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { access, constants } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { SessionManager } from '../../lib/index.js'
import { RedisStore, redisClientOptions } from '../../stores/redis.js'
import { Client } from '../helpers/http.js'
import { reachable } from '../helpers/service.js'
import { apps } from '../middleware/helpers/apps.js'

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

const dir = process.env.RUNTIMES_DIR ?? '/tmp/session-manager/runtimes'
const bun = `${dir}/node_modules/@oven/bun-linux-x64/bin/bun`
const deno = `${dir}/node_modules/@deno/linux-x64-glibc/deno`
const root = new URL('../..', import.meta.url).pathname
const app = new URL('./app.ts', import.meta.url).pathname

if (!(await reachable(t, `Bun and Deno in ${dir} (bash scripts/up-runtimes.sh)`, () => Promise.all([access(bun, constants.X_OK), access(deno, constants.X_OK)])))) process.exit()

const commands = {
  bun: [bun, app],
  // Deno maps the sources' .js specifiers to .ts with sloppy imports; npm packages come from node_modules.
  deno: [deno, 'run', '--unstable-sloppy-imports', '--allow-net', '--allow-read', '--allow-env', '--allow-sys', app],
}

/** Start the app under `runtime`; resolves to its URL once it listens. */
async function start(t: Test, runtime: keyof typeof commands, env: Record<string, string>): Promise<string> {
  const [cmd, ...args] = commands[runtime]
  const child = spawn(cmd ?? '', args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    child.kill()
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${runtime} did not listen in 20s: ${stderr}`)), 20_000)
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line)
      if (m) {
        clearTimeout(timer)
        resolve(m[1] ?? '')
      }
    })
    child.once('exit', (code) => reject(new Error(`${runtime} exited ${code}: ${stderr}`)))
  })
  return `http://127.0.0.1:${port}`
}

/** The behaviour checks of the Node suites, on one running app. */
async function behaves(t: Test, base: string, stateless = false) {
  const client = new Client(base)
  const anon = await client.get('/')
  t.equal(anon.body, 'n=0')
  t.same(anon.setCookies, [], 'an anonymous request sets no cookie')
  const first = await client.get('/put')
  t.equal(first.status, 200)
  t.equal(first.setCookies.length, 1)
  t.match(first.setCookies[0], /^session=[^;]+; Path=\/; Expires=.*; HttpOnly; SameSite=Lax$/)
  t.equal(first.headers.get('vary'), 'Cookie')
  t.equal(first.headers.get('cache-control'), 'no-cache="Set-Cookie"')
  t.equal((await client.get('/')).body, 'n=1', 'the next request reads its own write')
  const redirect = await client.get('/redirect', { redirect: 'manual' })
  t.equal(redirect.status, 303, 'an immutable Response.redirect')
  t.equal((await client.get('/')).body, 'n=2', 'its write was committed')
  const before = client.cookieHeader
  await client.get('/renew')
  t.not(client.cookieHeader, before, 'renewToken: a new cookie')
  t.equal((await client.get('/')).body, 'n=2', 'same data')
  const thrown = await client.get('/throw')
  t.equal(thrown.status, 500, 'a thrown handler is a 500')
  t.notMatch(thrown.body, /exploded|at /, 'no internals')
  t.equal((await client.get('/')).body, 'n=2', 'its change was not committed')
  for (const cookie of ['session=%%%', 'session=' + 'A'.repeat(5000), 'session=a b; session=']) {
    const reply = await new Client(base).get('/', { headers: { cookie } })
    t.equal(reply.status, 200, 'a malformed cookie is served')
    t.equal(reply.body, 'n=0', 'without a session')
  }
  const destroyed = await client.get('/destroy')
  t.match(destroyed.setCookies[0], /Max-Age=0/)
  // A sealed cookie store has no server state to revoke: only a stored session's old token dies.
  if (!stateless) t.equal((await new Client(base).get('/', { headers: { cookie: before } })).body, 'n=0', 'the old token is no session')
}

const cookieKey = randomBytes(32).toString('base64url')
for (const runtime of ['bun', 'deno'] as const) {
  for (const kind of ['fetch', 'hono']) {
    for (const store of ['memory', 'cookie']) {
      t.test(`${runtime} ${kind} on the ${store} store`, async (t) => {
        await behaves(t, await start(t, runtime, { APP: kind, STORE: store, COOKIE_KEY: cookieKey }), store === 'cookie')
      })
    }
  }
}

t.test('bun on Redis: fetch and Hono apps under Bun and the Express app on Node share one session', async (t) => {
  const prefix = `test-rt-${randomBytes(4).toString('hex')}:`
  const env = { STORE: 'redis', PREFIX: prefix }
  const fetchBase = await start(t, 'bun', { ...env, APP: 'fetch' })
  const honoBase = await start(t, 'bun', { ...env, APP: 'hono' })
  // The Express app of the sharing test, in this Node process, on the same Redis and prefix.
  const client = new Redis(redisUrl, redisClientOptions)
  const store = new RedisStore(client, { prefix })
  const express = await apps.express({ manager: new SessionManager({ store, logger: { warn() {}, error() {} } }), errors: [] })
  t.teardown(async () => {
    await express.close()
    const keys = await client.keys(`${prefix}*`)
    if (keys.length > 0) await client.unlink(...keys)
    await client.quit()
  })
  await behaves(t, fetchBase)
  const browser = new Client('')
  await browser.get(`${fetchBase}/put?k=from&v=bun-fetch`)
  t.equal((await browser.get(`${honoBase}/get?k=from`)).body, 'bun-fetch', 'Hono under Bun reads what the fetch app wrote')
  t.equal((await browser.get(`${express.url}/get?k=from`)).body, 'bun-fetch', 'Express on Node reads what the fetch app under Bun wrote')
  await browser.get(`${honoBase}/put`)
  t.equal((await browser.get(`${fetchBase}/`)).body, 'n=1')
  await browser.get(`${express.url}/put?k=back&v=node-express`)
  t.equal((await browser.get(`${honoBase}/get?k=back`)).body, 'node-express', 'Hono under Bun reads what Express on Node wrote')
  t.equal((await browser.get(`${express.url}/`)).body, 'n=1', 'and both see the same counter')
})
