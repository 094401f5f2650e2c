/**
 * signingKeys: tokens signed in transit (token.kid.mac). Forged or tampered cookies
 * are refused before any store call; keys rotate; weak keys fail at construction.
 */
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { SessionManager, type SigningKey } from '../lib/index.js'
import { MemoryStore } from '../stores/memory.js'
import { Client, counterApp, listen } from './helpers/http.js'
import { SpyStore } from './helpers/spy-store.js'

const k1 = randomBytes(32)
const k2 = randomBytes(32)

async function app(t: Test, signingKeys: SigningKey[], memory = new MemoryStore({ sweepInterval: 0 })) {
  const store = new SpyStore(memory)
  const manager = new SessionManager({ store, signingKeys })
  const server = await listen(counterApp(manager, String))
  t.teardown(server.close)
  return { store, memory, server, client: new Client(server.url) }
}

const withCookie = (value: string) => ({ headers: { cookie: `session=${value}` } })

t.test('signed cookies round-trip as token.kid.mac', async (t) => {
  const { client } = await app(t, [k1])
  await client.get('/put')
  const value = client.jar.get('session') ?? ''
  t.match(value, /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{43}$/)
  t.equal((await client.get('/put')).body, '2')
})

t.test('10,000 forged cookies cost the store nothing', async (t) => {
  const { store, server } = await app(t, [k1])
  const forged = Array.from({ length: 10_000 }, (_, i) => {
    const token = randomBytes(32).toString('base64url')
    return i % 2 === 0 ? token : `${token}.${randomBytes(6).toString('base64url')}.${randomBytes(32).toString('base64url')}`
  })
  const started = Date.now()
  for (let i = 0; i < forged.length; i += 100) {
    const replies = await Promise.all(forged.slice(i, i + 100).map((f) => new Client(server.url).get('/', withCookie(f))))
    if (replies.some((r) => r.body !== '0')) t.fail('a forged cookie was accepted')
  }
  t.comment(`10,000 forged cookies in ${Date.now() - started} ms: ${store.total} store calls`)
  t.equal(store.total, 0, 'store calls for 10,000 forged cookies: 0')
})

t.test('a signed cookie tampered at any position is refused before the store', async (t) => {
  const { client, store, server } = await app(t, [k1])
  await client.get('/put')
  const value = client.jar.get('session') ?? ''
  store.reset()
  let accepted = 0
  for (let i = 0; i < value.length; i++) {
    const c = value[i] ?? ''
    const flipped = value.slice(0, i) + (c === 'A' ? 'B' : 'A') + value.slice(i + 1)
    if ((await new Client(server.url).get('/', withCookie(flipped))).body !== '0') accepted++
  }
  t.equal(accepted, 0, `all ${value.length} positions`)
  t.equal(store.total, 0, 'no store call for any of them')
  const unsigned = value.split('.')[0] ?? ''
  t.equal((await new Client(server.url).get('/', withCookie(unsigned))).body, '0', 'the bare token without its signature is refused')
  t.equal(store.total, 0)
})

t.test('signing keys rotate: new first keeps old cookies, removing the old ends them', async (t) => {
  const memory = new MemoryStore({ sweepInterval: 0 })
  const before = await app(t, [k1], memory)
  await before.client.get('/put')
  const oldCookie = before.client.jar.get('session') ?? ''
  const during = await app(t, [k2, k1], memory)
  const c = new Client(during.server.url)
  t.equal((await c.get('/put', withCookie(oldCookie))).body, '2', 'old cookie still valid after a new key is added first')
  const newCookie = c.jar.get('session') ?? ''
  t.not(newCookie.split('.')[1], oldCookie.split('.')[1], 're-signed with the new key id')
  const after = await app(t, [k2], memory)
  t.equal((await new Client(after.server.url).get('/', withCookie(oldCookie))).body, '0', 'old key removed: its cookies are refused')
  t.equal(after.store.total, 0, 'without a store call')
  t.equal((await new Client(after.server.url).get('/', withCookie(newCookie))).body, '2')
  const named = await app(t, [{ id: 'v2', key: k2 }], memory)
  await named.client.get('/put')
  t.match(named.client.jar.get('session'), /\.v2\./, 'explicit key ids travel in the cookie')
})

t.test('weak or missing signing keys fail at construction, naming the option', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /option signingKeys: expected at least one key/],
    [['short'], /option signingKeys\.0: .*at least 32 bytes/],
    [['a'.repeat(40)], /option signingKeys\.0: .*random/],
    [[new Uint8Array(31)], /at least 32 bytes/],
    [[{ id: 'bad id!', key: k1 }], /key id/],
    ['not-a-list', /option signingKeys: expected a list of keys/],
  ]
  for (const [keys, message] of bad) {
    t.throws(() => new SessionManager({ signingKeys: keys as SigningKey[] }), { code: 'ERR_CONFIG', message }, JSON.stringify(keys))
  }
})
