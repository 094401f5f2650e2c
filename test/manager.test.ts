/**
 * The SessionManager API, through a real HTTP server (and `load`/`commit` without one).
 */
import t from 'tap'
import { z } from 'zod'
import { SessionManager, SessionError } from '../lib/index.js'
import { MemoryStore } from '../stores/memory.js'
import { Client, listen } from './helpers/http.js'

t.test('SessionManager typed getters and pops round-trip every codec type', async (t) => {
  const manager = new SessionManager({ store: new MemoryStore({ sweepInterval: 0 }) })
  const when = new Date('2026-01-02T03:04:05.678Z')
  const app = await listen(
    manager.loadAndSave((req, res) => {
      if (req.url === '/set') {
        manager.put(req, 's', 'text')
        manager.put(req, 'n', 42.5)
        manager.put(req, 'b', true)
        manager.put(req, 'd', when)
        manager.put(req, 'bytes', new Uint8Array([0, 1, 255]))
        manager.put(req, 'big', 2n ** 70n)
        manager.put(req, 'map', new Map([[1, new Set(['a'])]]))
        manager.put(req, 'obj', { $t: 'not a tag', nested: [undefined, Number.NaN, -0] })
        manager.put(req, 'flash', 'once')
        return res.end('set')
      }
      const out = {
        s: manager.getString(req, 's'),
        n: manager.getNumber(req, 'n'),
        b: manager.getBoolean(req, 'b'),
        d: manager.getDate(req, 'd').toISOString(),
        bytes: [...manager.getBytes(req, 'bytes')],
        big: String(manager.get(req, 'big')),
        bigType: typeof manager.get(req, 'big'),
        map: [...(manager.get(req, 'map') as Map<number, Set<string>>)].map(([k, v]) => [k, [...v]]),
        obj: manager.get(req, 'obj'),
        nested: String((manager.get(req, 'obj') as { nested: unknown[] }).nested),
        negZero: Object.is((manager.get(req, 'obj') as { nested: number[] }).nested[2], -0),
        flash: manager.popString(req, 'flash'),
        wrongType: [manager.getString(req, 'n'), manager.getNumber(req, 's'), manager.getBoolean(req, 's'), manager.getDate(req, 's').getTime(), manager.getBytes(req, 's').length],
        keys: manager.keys(req),
        exists: [manager.exists(req, 's'), manager.exists(req, 'nope')],
      }
      res.end(JSON.stringify(out))
    }),
  )
  t.teardown(app.close)
  const client = new Client(app.url)
  await client.get('/set')
  const first = JSON.parse((await client.get('/')).body)
  t.same(first, {
    s: 'text',
    n: 42.5,
    b: true,
    d: when.toISOString(),
    bytes: [0, 1, 255],
    big: String(2n ** 70n),
    bigType: 'bigint',
    map: [[1, ['a']]],
    obj: { $t: 'not a tag', nested: [null, null, 0] },
    nested: ',NaN,0',
    negZero: true,
    flash: 'once',
    wrongType: ['', 0, false, 0, 0],
    keys: ['b', 'big', 'bytes', 'd', 'map', 'n', 'obj', 's'],
    exists: [true, false],
  })
  const second = JSON.parse((await client.get('/')).body)
  t.equal(second.flash, '', 'a popped value is gone on the next request')
})

t.test('SessionManager.get with a zod schema validates and types the value', async (t) => {
  const manager = new SessionManager()
  const session = await manager.load(undefined)
  manager.put(session, 'cart', { items: ['a', 'b'] })
  manager.put(session, 'bad', { items: 'nope' })
  const Cart = z.object({ items: z.array(z.string()) })
  const cart = manager.get(session, 'cart', Cart)
  t.same(cart?.items, ['a', 'b'])
  t.equal(manager.get(session, 'bad', Cart), undefined, 'a non-matching value is undefined')
  t.equal(manager.get(session, 'missing', Cart), undefined)
})

t.test('SessionManager option schema types put/get and validates stored data on load', async (t) => {
  const store = new MemoryStore({ sweepInterval: 0 })
  const schema = z.object({ userId: z.string().optional(), visits: z.number().optional() })
  const warnings: unknown[] = []
  const manager = new SessionManager({ store, schema, logger: { warn: (_m, e) => warnings.push(e), error() {} } })
  const session = await manager.load(undefined)
  manager.put(session, 'userId', 'u1')
  manager.put(session, 'visits', 3)
  const { token } = await manager.commit(session)
  const again = await manager.load(token)
  t.equal(manager.get(again, 'userId'), 'u1')
  t.equal(manager.get(again, 'visits'), 3)
  const typed: string | undefined = manager.get(again, 'userId')
  t.equal(typed, 'u1')
  // @ts-expect-error a number is not a string: caught at compile time, and refused at run time
  t.throws(() => manager.put(again, 'userId', 5), { name: 'SchemaError', code: 'ERR_SCHEMA', key: 'userId' })
  t.equal(manager.get(again, 'userId'), 'u1', 'the refused put changed nothing')
  t.equal(manager.status(again), 'unmodified')
  const loose = new SessionManager({ store })
  const raw = await loose.load(token)
  loose.put(raw, 'visits', 'many')
  await loose.commit(raw)
  const checked = await manager.load(token)
  t.ok(checked.isNew, 'data that fails the schema is treated as no session')
  t.match(warnings.at(-1), { code: 'ERR_CODEC' })
})

t.test('SessionManager.renewToken: new token, same data, old token dead', async (t) => {
  const manager = new SessionManager({ store: new MemoryStore({ sweepInterval: 0 }) })
  const app = await listen(
    manager.loadAndSave(async (req, res) => {
      if (req.url === '/login') {
        manager.put(req, 'user', 'ann')
        await manager.renewToken(req)
      }
      res.end(manager.getString(req, 'user'))
    }),
  )
  t.teardown(app.close)
  const client = new Client(app.url)
  await client.get('/login')
  const before = client.jar.get('session')
  const renewed = await client.get('/login')
  const after = client.jar.get('session')
  t.not(after, before, 'a new token is set')
  t.equal(renewed.body, 'ann')
  t.equal((await client.get('/')).body, 'ann', 'the data follows the new token')
  const old = await new Client(app.url).get('/', { headers: { cookie: `session=${before}` } })
  t.equal(old.body, '', 'the old token finds nothing')
})

t.test('SessionManager.destroy deletes, expires the cookie, a later put starts afresh', async (t) => {
  const store = new MemoryStore({ sweepInterval: 0 })
  const manager = new SessionManager({ store })
  const app = await listen(
    manager.loadAndSave(async (req, res) => {
      if (req.url === '/put') manager.put(req, 'v', 1)
      if (req.url?.startsWith('/destroy')) {
        await manager.destroy(req)
        t.equal(manager.status(req), 'destroyed')
        if (req.url === '/destroy-then-put') manager.put(req, 'v', 2)
      }
      res.end(String(manager.getNumber(req, 'v')))
    }),
  )
  t.teardown(app.close)
  const client = new Client(app.url)
  await client.get('/put')
  const token = client.jar.get('session')
  const gone = await client.get('/destroy')
  t.match(gone.setCookies[0], /^session=; .*Max-Age=0/)
  t.equal(store.size, 0, 'deleted from the store')
  t.equal(client.jar.size, 0)
  const reused = await new Client(app.url).get('/', { headers: { cookie: `session=${token}` } })
  t.equal(reused.body, '0', 'the old token is dead')
  await client.get('/put')
  const fresh = await client.get('/destroy-then-put')
  t.equal(fresh.body, '2')
  t.match(fresh.setCookies.at(-1), /^session=[A-Za-z0-9_-]{43};/, 'a new session with a new token')
  t.not(client.jar.get('session'), token)
})

t.test('SessionManager.status and token follow the mutators', async (t) => {
  const manager = new SessionManager()
  const s = await manager.load(undefined)
  t.equal(manager.status(s), 'unmodified')
  t.equal(manager.token(s), '', 'no token for an untouched new session')
  manager.remove(s, 'absent')
  t.equal(manager.status(s), 'unmodified', 'removing an absent key changes nothing')
  manager.put(s, 'a', 1)
  t.equal(manager.status(s), 'modified')
  const token = manager.token(s)
  t.match(token, /^[A-Za-z0-9_-]{43}$/, 'a modified new session gets its token on demand')
  const result = await manager.commit(s)
  t.equal(result.token, token, 'and commits under it')
  const loaded = await manager.load(token)
  manager.clear(loaded)
  t.same(manager.keys(loaded), [])
  t.equal(manager.status(loaded), 'modified')
})

t.test('SessionManager methods refuse a request without a session', async (t) => {
  const manager = new SessionManager()
  t.throws(() => manager.put({}, 'a', 1), { code: 'ERR_NO_SESSION' })
  t.ok(new SessionError('ERR_CONFIG', 'x') instanceof Error)
})

t.test('SessionManager.mergeSession pulls another session in and deletes it', async (t) => {
  const store = new MemoryStore({ sweepInterval: 0 })
  const manager = new SessionManager({ store })
  const cart = await manager.load(undefined)
  manager.put(cart, 'cart', ['apple'])
  manager.put(cart, 'shared', 'from-cart')
  const { token: cartToken } = await manager.commit(cart)
  const main = await manager.load(undefined)
  manager.put(main, 'user', 'ann')
  manager.put(main, 'shared', 'from-main')
  await manager.mergeSession(main, cartToken ?? '')
  t.same(manager.get(main, 'cart'), ['apple'])
  t.equal(manager.get(main, 'user'), 'ann')
  t.equal(manager.get(main, 'shared'), 'from-cart', 'the merged session wins on equal keys')
  t.ok((await manager.load(cartToken)).isNew, 'the merged session is deleted')
  await manager.mergeSession(main, 'not-a-token')
  t.equal(manager.get(main, 'user'), 'ann', 'a malformed token merges nothing')
})

t.test('SessionManager.iterate visits live sessions of its prefix only', async (t) => {
  const store = new MemoryStore({ sweepInterval: 0 })
  const a = new SessionManager({ store, prefix: 'a:' })
  const b = new SessionManager({ store, prefix: 'b:' })
  for (let i = 0; i < 5; i++) {
    const s = await a.load(undefined)
    a.put(s, 'i', i)
    await a.commit(s)
  }
  const other = await b.load(undefined)
  b.put(other, 'i', 99)
  await b.commit(other)
  const seen: number[] = []
  await a.iterate((s) => {
    seen.push(a.getNumber(s, 'i'))
    if (a.getNumber(s, 'i') === 0) return a.destroy(s)
    a.put(s, 'visited', true)
  })
  t.same(seen.sort(), [0, 1, 2, 3, 4], 'every session of prefix a:, none of b:')
  let visited = 0
  await a.iterate((s) => {
    if (a.getBoolean(s, 'visited')) visited++
  })
  t.equal(visited, 4, 'changes were committed, the destroyed one is gone')
  const again = await b.load(b.token(other))
  t.equal(b.getNumber(again, 'i'), 99, 'prefix b: untouched')
})

t.test('two prefixes never collide on one store', async (t) => {
  const store = new MemoryStore({ sweepInterval: 0 })
  const a = new SessionManager({ store, prefix: 'app1:', hashTokenInStore: false })
  const b = new SessionManager({ store, prefix: 'app2:', hashTokenInStore: false })
  const s = await a.load(undefined)
  a.put(s, 'k', 'a')
  const { token } = await a.commit(s)
  t.ok((await b.load(token)).isNew, 'the same token means nothing under another prefix')
  t.equal(store.size, 1)
  for await (const [key] of store.all('')) t.equal(key, `app1:${token}`, 'unhashed keys are prefix + token')
})
