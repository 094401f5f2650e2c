/**
 * The package as a user installs it: every subpath export points at built JavaScript
 * and declarations (scripts/test.sh builds before the tests), the built core loads
 * without any database client or framework, and the manifest says what DESIGN.md asks.
 */
import { existsSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import t from 'tap'

const root = new URL('..', import.meta.url).pathname
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'))

t.test('package.json: ESM, side-effect free, optional peers', async (t) => {
  t.equal(pkg.name, 'session-manager')
  t.equal(pkg.type, 'module')
  t.equal(pkg.sideEffects, false)
  for (const peer of ['ioredis', 'etcd3', 'mysql2', 'pg', 'express', 'fastify', 'koa', 'hono']) {
    t.ok(pkg.peerDependencies[peer], `${peer} is a peer dependency`)
    t.equal(pkg.peerDependenciesMeta[peer]?.optional, true, `${peer} is optional`)
  }
  t.same(Object.keys(pkg.dependencies).sort(), ['cookie', 'zod'], 'zod and cookie (1.x, Node 20) are the only runtime dependencies')
  t.match(pkg.dependencies.cookie, /^\^1\./, 'cookie 1.x: 2.x needs Node 22')
  t.equal(pkg.peerDependencies.jose, undefined, 'the cookie store seals with node:crypto: no jose at run time')
})

t.test('every subpath export resolves to built code and types', async (t) => {
  for (const [path, target] of Object.entries(pkg.exports as Record<string, string | { types: string; default: string }>)) {
    if (typeof target === 'string') {
      t.ok(existsSync(`${root}${target}`), `${path} -> ${target}`)
      continue
    }
    t.ok(existsSync(`${root}${target.default}`), `${path} -> ${target.default}`)
    t.ok(existsSync(`${root}${target.types}`), `${path} types -> ${target.types}`)
  }
})

t.test('the built core loads without loading any client or framework', async (t) => {
  const script = `
    const m = await import('${root}dist/lib/index.js')
    const s = new m.SessionManager()
    const session = await s.load(undefined)
    s.put(session, 'a', 1)
    await s.commit(session)
    const { createRequire } = await import('node:module')
    const loaded = Object.keys(createRequire(import.meta.url).cache)
    console.log(JSON.stringify({ ok: typeof s.put === 'function', loaded }))
  `
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: root })
  t.equal(run.status, 0, run.stderr)
  const out = JSON.parse(run.stdout.trim())
  t.ok(out.ok)
  const heavy = (out.loaded as string[]).filter((f) => /node_modules\/(ioredis|etcd3|mysql2|pg|jose|express|fastify|koa|hono)\//.test(f))
  t.same(heavy, [], 'no client or framework was loaded')
})

t.test('the built fetch adapter works from dist: an immutable redirect gets the cookie', async (t) => {
  const script = `
    const { SessionManager } = await import('${root}dist/lib/index.js')
    const { fetchHandler } = await import('${root}dist/middleware/fetch.js')
    const m = new SessionManager()
    const handle = fetchHandler(m, (r) => { m.put(r, 'a', 1); return Response.redirect('https://x.test/', 303) })
    const res = await handle(new Request('https://x.test/login', { method: 'POST' }))
    console.log(JSON.stringify({ status: res.status, cookies: res.headers.getSetCookie().length }))
  `
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: root })
  t.equal(run.status, 0, run.stderr)
  t.same(JSON.parse(run.stdout.trim()), { status: 303, cookies: 1 })
})
