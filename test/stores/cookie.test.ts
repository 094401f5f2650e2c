/**
 * CookieStore over real HTTP: the session sealed in the cookie (JWE dir+A256GCM).
 * Round trip, tamper at every position, truncation, size limits, wrong key, rotation,
 * expiry enforced against a browser that keeps the cookie, and what is refused.
 */
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { SessionManager, type SessionManagerOptions } from '../../lib/index.js'
import { CookieStore } from '../../stores/cookie.js'
import { Client, listen } from '../helpers/http.js'

const k1 = randomBytes(32)
const k2 = randomBytes(32)

async function app(t: Test, keys: Uint8Array[], options: SessionManagerOptions = {}, clock?: () => number) {
  const logged: unknown[] = []
  const store = new CookieStore({ keys, ...(clock ? { now: clock } : {}) })
  const manager = new SessionManager({ store, logger: { warn: (_m, e) => logged.push(e), error: (_m, e) => logged.push(e) }, ...(clock ? { now: clock } : {}), ...options })
  const server = await listen(
    manager.loadAndSave(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname === '/put') manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
      if (url.pathname === '/big') manager.put(req, 'blob', randomBytes(Number(url.searchParams.get('size'))).toString('base64'))
      if (url.pathname === '/destroy') await manager.destroy(req)
      if (url.pathname === '/renew') await manager.renewToken(req)
      if (url.pathname === '/forget') manager.rememberMe(req, false)
      res.end(String(manager.getNumber(req, 'n')))
    }),
  )
  t.teardown(server.close)
  return { manager, store, server, logged, client: new Client(server.url) }
}

const withCookie = (value: string) => ({ headers: { cookie: `session=${value}` } })

t.test('CookieStore round-trips the session in the cookie', async (t) => {
  const { client } = await app(t, [k1])
  await client.get('/put')
  const sealed = client.jar.get('session') ?? ''
  t.match(sealed, /^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/, 'a compact JWE (dir: empty key part)')
  t.equal(JSON.parse(Buffer.from(sealed.split('.')[0] ?? '', 'base64url').toString()).enc, 'A256GCM')
  t.equal((await client.get('/put')).body, '2')
  t.not(client.jar.get('session'), sealed, 'every commit reseals')
  t.equal((await client.get('/')).body, '2')
})

t.test('CookieStore: a cookie tampered at any position is no session', async (t) => {
  const { client, server } = await app(t, [k1])
  await client.get('/put')
  const sealed = client.jar.get('session') ?? ''
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  let accepted = 0
  const probes = []
  for (let i = 0; i < sealed.length; i++) {
    const c = sealed[i] ?? ''
    const flipped = c === '.' ? 'A' : alphabet[(alphabet.indexOf(c) + 1 + (i % 63)) % 64]
    probes.push(sealed.slice(0, i) + flipped + sealed.slice(i + 1))
  }
  for (let i = 0; i < probes.length; i += 25) {
    const replies = await Promise.all(probes.slice(i, i + 25).map((p) => new Client(server.url).get('/', withCookie(p))))
    accepted += replies.filter((r) => r.body !== '0' || r.status !== 200).length
  }
  t.equal(accepted, 0, `all ${probes.length} single-position tamperings rejected`)
  for (const cut of [1, 10, sealed.length / 2, sealed.length - 1]) {
    const reply = await new Client(server.url).get('/', withCookie(sealed.slice(0, cut)))
    t.equal(reply.body, '0', `truncated to ${cut} characters: no session`)
  }
})

t.test('CookieStore: oversized cookies and sessions', async (t) => {
  const { client, logged, server } = await app(t, [k1])
  const huge = `${'A'.repeat(5000)}`
  t.equal((await new Client(server.url).get('/', withCookie(huge))).body, '0', 'an oversized cookie is no session')
  await client.get('/put')
  const before = client.jar.get('session')
  const big = await client.get('/big?size=4000')
  t.equal(big.status, 500, 'a session too large for a cookie is an error')
  t.same(big.setCookies, [], 'never a truncated cookie')
  t.match(logged.at(-1), { code: 'ERR_TOO_LARGE', limit: 4000 })
  t.equal(client.jar.get('session'), before)
  t.equal((await client.get('/')).body, '1', 'the previous cookie still works')
  const fits = await client.get('/big?size=2000')
  t.equal(fits.status, 200)
  t.ok((fits.setCookies[0]?.length ?? 0) < 4096)
})

t.test('CookieStore: wrong key, and rotation', async (t) => {
  const old = await app(t, [k1])
  await old.client.get('/put')
  const sealed = old.client.jar.get('session') ?? ''
  const other = await app(t, [k2])
  t.equal((await new Client(other.server.url).get('/', withCookie(sealed))).body, '0', 'a cookie sealed with another key is no session')
  const rotated = await app(t, [k2, k1])
  const c = new Client(rotated.server.url)
  t.equal((await c.get('/put', withCookie(sealed))).body, '2', 'new key first, old key kept: old cookies still open')
  const resealed = c.jar.get('session') ?? ''
  const header = JSON.parse(Buffer.from(resealed.split('.')[0] ?? '', 'base64url').toString())
  const oldHeader = JSON.parse(Buffer.from(sealed.split('.')[0] ?? '', 'base64url').toString())
  t.not(header.kid, oldHeader.kid, 'and are resealed with the new key')
  const retired = await app(t, [k2])
  t.equal((await new Client(retired.server.url).get('/', withCookie(sealed))).body, '0', 'old key removed: its cookies are dead')
  t.equal((await new Client(retired.server.url).get('/', withCookie(resealed))).body, '2', 'resealed ones live on')
})

t.test('CookieStore: expiry is enforced even when the browser keeps the cookie', async (t) => {
  let clock = Date.now()
  const now = () => clock
  const { client, server } = await app(t, [k1], { lifetime: '1h', idleTimeout: '10m' }, now)
  await client.get('/put')
  const sealed = client.jar.get('session') ?? ''
  clock += 9 * 60_000
  const touched = await client.get('/')
  t.equal(touched.body, '1', 'alive within the idle window')
  t.equal(touched.setCookies.length, 1, 'idle extension reseals the cookie')
  clock += 11 * 60_000
  t.equal((await new Client(server.url).get('/', withCookie(client.jar.get('session') ?? ''))).body, '0', 'idle expiry enforced')
  t.equal((await new Client(server.url).get('/', withCookie(sealed))).body, '0', 'an old copy kept by the browser is dead too')
})

t.test('CookieStore: destroy, renewToken and rememberMe behave as with server stores', async (t) => {
  const { client } = await app(t, [k1])
  await client.get('/put')
  const before = client.jar.get('session')
  await client.get('/renew')
  t.not(client.jar.get('session'), before, 'renewToken gives a new cookie value')
  t.equal((await client.get('/')).body, '1')
  const forget = await client.get('/forget')
  t.notMatch(forget.setCookies[0], /Max-Age|Expires/, 'a browser-session cookie')
  const gone = await client.get('/destroy')
  t.match(gone.setCookies[0], /^session=; .*Max-Age=0/)
  t.equal((await client.get('/')).body, '0')
})

t.test('CookieStore refuses what cannot hold statelessly, with clear errors', async (t) => {
  const { manager } = await app(t, [k1])
  await t.rejects(manager.sessionsOf('u'), { code: 'ERR_UNSUPPORTED', message: /CookieStore has no user index/ })
  await t.rejects(manager.revokeUser('u'), { code: 'ERR_UNSUPPORTED' })
  await t.rejects(manager.iterate(() => {}), { code: 'ERR_UNSUPPORTED', message: /cannot list/ })
  t.throws(() => new SessionManager({ store: new CookieStore({ keys: [k1] }), singleSession: true }), { code: 'ERR_CONFIG', message: /singleSession/ })
  t.throws(() => new SessionManager({ store: new CookieStore({ keys: [k1] }), signingKeys: [randomBytes(32)] }), { code: 'ERR_CONFIG', message: /signingKeys/ })
  t.throws(() => new CookieStore({ keys: ['too short'] }), { code: 'ERR_CONFIG', message: /keys\.0: expected exactly 32 bytes/ })
  t.throws(() => new CookieStore({ keys: [new Uint8Array(32)] }), { code: 'ERR_CONFIG', message: /random/ })
  t.throws(() => new CookieStore({ keys: [] }), { code: 'ERR_CONFIG', message: /at least one key/ })
  t.throws(() => new CookieStore({ keys: [k1], key: k1 } as never), { name: 'ConfigError', code: 'ERR_CONFIG', message: /^invalid CookieStore options: unknown option key$/ })
  t.ok(new CookieStore({ keys: [k1.toString('base64url'), k2.toString('hex')] }), 'base64url and hex keys accepted')
})

t.test('CookieStore speaks standard JWE: jose opens its cookies, and it opens jose\'s', async (t) => {
  const { CompactEncrypt, compactDecrypt } = await import('jose')
  const store = new CookieStore({ keys: [k1] })
  const exp = Date.now() + 60_000
  const sealed = await store.seal(new TextEncoder().encode('{"hello":1}'), new Date(exp))
  const { plaintext, protectedHeader } = await compactDecrypt(sealed, k1)
  t.equal(new TextDecoder().decode(plaintext), '{"hello":1}', 'jose decrypts what the store sealed')
  t.match(protectedHeader, { alg: 'dir', enc: 'A256GCM', exp }, 'with the header the store wrote')
  t.type(protectedHeader.kid, 'string')

  const kid = protectedHeader.kid as string
  const byJose = await new CompactEncrypt(new TextEncoder().encode('from jose'))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid, exp })
    .encrypt(k1)
  t.equal(new TextDecoder().decode((await store.open(byJose)) ?? new Uint8Array()), 'from jose', 'the store opens a JWE jose sealed')

  const refused = {
    'another content encryption': await new CompactEncrypt(new Uint8Array([1])).setProtectedHeader({ alg: 'dir', enc: 'A128GCM', kid, exp }).encrypt(k1.subarray(0, 16)),
    'no expiry': await new CompactEncrypt(new Uint8Array([1])).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid }).encrypt(k1),
    'expired': await new CompactEncrypt(new Uint8Array([1])).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid, exp: Date.now() - 1 }).encrypt(k1),
    'an unknown key id': await new CompactEncrypt(new Uint8Array([1])).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: 'nope', exp }).encrypt(k1),
  }
  for (const [what, value] of Object.entries(refused)) t.equal(await store.open(value), undefined, `refused: ${what}`)
})
