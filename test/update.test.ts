/**
 * `update`, `increment`, the `conflict` event, the schema at the door and `__proto__`,
 * over real HTTP on a store that answers after a real delay (so requests overlap).
 */
import type { Test } from 'tap'
import t from 'tap'
import { z } from 'zod'
import { type ConflictEvent, jsonCodec, SchemaError, SessionManager, type SessionManagerOptions } from '../lib/index.js'
import { MemoryStore } from '../stores/memory.js'
import { Client, listen } from './helpers/http.js'
import { SpyStore } from './helpers/spy-store.js'

async function app(t: Test, options: SessionManagerOptions = {}) {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 5 })
  const manager = new SessionManager({ store, logger: { warn() {}, error() {} }, ...options })
  const server = await listen(
    manager.loadAndSave(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const q = (k: string) => url.searchParams.get(k) ?? ''
      try {
        if (url.pathname === '/put') manager.put(req, q('k'), q('v'))
        if (url.pathname === '/put-json') manager.put(req, q('k'), JSON.parse(q('v')))
        if (url.pathname === '/inc') res.setHeader('x-value', String(manager.increment(req, 'n', Number(q('by') || 1))))
        if (url.pathname === '/get') return res.end(JSON.stringify(manager.get(req, q('k')) ?? null))
        if (url.pathname === '/proto') {
          const v = manager.get(req, q('k')) as Record<string, unknown> | undefined
          return res.end(JSON.stringify({ own: v !== undefined && Object.hasOwn(v, '__proto__'), protoIsObject: v !== undefined && Object.getPrototypeOf(v) === Object.prototype, isAdmin: (v as { isAdmin?: unknown } | undefined)?.isAdmin ?? null }))
        }
      } catch (err) {
        if (err instanceof SchemaError) return res.writeHead(400).end(JSON.stringify({ code: err.code, key: err.key, message: err.message }))
        throw err
      }
      res.end(JSON.stringify(manager.keys(req)))
    }),
  )
  t.teardown(server.close)
  return { manager, store, client: new Client(server.url), url: server.url }
}

t.test('increment returns the new value at once and counts from a missing or non-number value', async (t) => {
  const { client } = await app(t)
  t.equal((await client.get('/inc')).headers.get('x-value'), '1', 'missing counts as 0')
  t.equal((await client.get('/inc?by=5')).headers.get('x-value'), '6')
  await client.get('/put?k=n&v=text')
  t.equal((await client.get('/inc')).headers.get('x-value'), '1', 'a non-number counts as 0')
})

t.test('update and increment refuse bad arguments with ConfigError', async (t) => {
  const manager = new SessionManager({ store: new MemoryStore({ sweepInterval: 0 }) })
  const session = await manager.load(undefined)
  t.throws(() => manager.increment(session, 'n', Number.NaN), { code: 'ERR_CONFIG', message: /increment: argument by/ })
  // @ts-expect-error not a function
  t.throws(() => manager.update(session, 'n', 5), { code: 'ERR_CONFIG', message: /update: argument fn/ })
  t.equal(manager.status(session), 'unmodified', 'nothing changed')
  t.same(manager.update(session, 'list', (l) => [...((l as number[] | undefined) ?? []), 1]), [1], 'update returns the new value')
})

t.test('conflict: a put that overwrote a concurrent change of the same key says so; distinct keys and update do not', async (t) => {
  const { manager, client } = await app(t)
  await client.get('/put?k=start&v=1')
  const conflicts: ConflictEvent[] = []
  manager.on('conflict', (e) => conflicts.push(e))
  await Promise.all(Array.from({ length: 10 }, (_, i) => client.get(`/put?k=k${i}&v=x`)))
  t.same(conflicts, [], 'ten puts of ten keys: no conflict')
  await Promise.all(Array.from({ length: 10 }, () => client.get('/inc')))
  t.same(conflicts, [], 'ten increments of one key: no conflict (update re-applies)')
  t.equal(JSON.parse((await client.get('/get?k=n')).body), 10)
  await Promise.all(Array.from({ length: 5 }, (_, i) => client.get(`/put?k=color&v=c${i}`)))
  t.ok(conflicts.length >= 1, `five puts of one key with different values: conflicts reported (${conflicts.length})`)
  t.ok(conflicts.every((c) => c.key === 'color' && c.kind === 'rebase' && c.store === 'Spy(MemoryStore)' && /^[A-Za-z0-9_-]{22}$/.test(c.id)), 'each names the key, the store and the session id')
  conflicts.length = 0
  await client.get('/put?k=color&v=final')
  t.same(conflicts, [], 'a put onto the value it loaded: no conflict')
})

t.test('conflict across two managers sharing a store (a store-side retry)', async (t) => {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 5 })
  const a = await app(t, { store })
  const b = await app(t, { store })
  await a.client.get('/put?k=start&v=1')
  const onB = new Client(b.url)
  onB.jar.set('session', a.client.jar.get('session') as string)
  const conflicts: ConflictEvent[] = []
  a.manager.on('conflict', (e) => conflicts.push(e))
  b.manager.on('conflict', (e) => conflicts.push(e))
  await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a.client : onB).get(`/put?k=color&v=c${i}`)))
  t.ok(conflicts.some((c) => c.kind === 'retry' && c.key === 'color'), `a retry conflict named the key (${JSON.stringify(conflicts.map((c) => c.kind))})`)
})

t.test('schema: a value it rejects is refused at put, over HTTP (400), and the session stays readable', async (t) => {
  const schema = z.object({ cart: z.array(z.string()).optional(), start: z.string().optional(), n: z.number().optional() })
  const { client } = await app(t, { schema: schema as z.ZodType<Record<string, unknown>> })
  t.equal((await client.get('/put?k=start&v=1')).status, 200)
  const refused = await client.get(`/put-json?k=cart&v=${encodeURIComponent('["apple",42]')}`)
  t.equal(refused.status, 400)
  t.match(JSON.parse(refused.body), { code: 'ERR_SCHEMA', key: 'cart', message: /"cart" does not match the schema at 1/ })
  t.same(JSON.parse((await client.get('/')).body), ['start'], 'the session is intact: still logged in, nothing corrupt')
  t.equal((await client.get(`/put-json?k=cart&v=${encodeURIComponent('["apple"]')}`)).status, 200, 'a valid cart is taken')
  t.equal((await client.get('/put?k=n&v=text')).status, 400, 'a string where the schema wants a number')
  t.equal((await client.get('/inc')).status, 200, 'increment gives a number')
})

t.test('schema: a strict or non-object schema is checked as the whole session', async (t) => {
  const strict = new SessionManager({ store: new MemoryStore({ sweepInterval: 0 }), schema: z.strictObject({ a: z.string().optional() }) as z.ZodType<Record<string, unknown>> })
  const s1 = await strict.load(undefined)
  t.throws(() => strict.put(s1, 'other', 1), SchemaError, 'a key a strict object does not name')
  const record = new SessionManager({ store: new MemoryStore({ sweepInterval: 0 }), schema: z.record(z.string(), z.number()) })
  const s2 = await record.load(undefined)
  record.put(s2, 'x', 1)
  t.throws(() => record.put(s2, 'y', 'no' as unknown as number), { code: 'ERR_SCHEMA', key: 'y' })
  t.same(record.keys(s2), ['x'])
})

t.test('__proto__: an own key round-trips, top level and nested; stored bytes never set a prototype', async (t) => {
  const { client } = await app(t)
  // A parsed JSON body can have an own __proto__ key.
  const body = '{"name":"ann","__proto__":{"isAdmin":true}}'
  await client.get(`/put-json?k=profile&v=${encodeURIComponent(body)}`)
  t.same(JSON.parse((await client.get('/proto?k=profile')).body), { own: true, protoIsObject: true, isAdmin: null }, 'own key kept, prototype untouched, no inherited isAdmin')
  t.equal(JSON.stringify(JSON.parse((await client.get('/get?k=profile')).body)), body, 'round-trips exactly')
  await client.get(`/put-json?k=__proto__&v=${encodeURIComponent('{"x":1}')}`)
  t.ok(JSON.parse((await client.get('/')).body).includes('__proto__'), 'a top-level session key named __proto__ is kept')

  const hostile = new TextEncoder().encode('{"c":1,"d":9e15,"e":9e15,"v":{"p":{"__proto__":{"isAdmin":true}},"q":{"$t":"obj","v":{"__proto__":{"isAdmin":true}}}}}')
  const decoded = jsonCodec.decode(hostile)
  for (const k of ['p', 'q']) {
    const v = decoded.values.get(k) as { isAdmin?: unknown }
    t.equal(Object.getPrototypeOf(v), Object.prototype, `${k}: the prototype is Object.prototype`)
    t.equal(v.isAdmin, undefined, `${k}: no inherited isAdmin`)
    t.ok(Object.hasOwn(v, '__proto__'), `${k}: __proto__ is an own key`)
  }
})
