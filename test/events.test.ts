/**
 * The manager's lifecycle events and their diagnostics channels, over real HTTP:
 * each event fires once for what it names, carries the opaque session id (never a
 * token or store key), and a failing listener never breaks a request.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import t from 'tap'
import { SessionManager, type SessionManagerOptions, type Store, type StoreCallContext, storeChannel } from '../lib/index.js'
import { MemoryStore } from '../stores/memory.js'
import { Client, listen } from './helpers/http.js'
import { SpyStore } from './helpers/spy-store.js'

type Logged = unknown[]

async function app(t: Tap.Test, options: SessionManagerOptions = {}) {
  const logged: Logged = []
  const store = new SpyStore(options.store ?? new MemoryStore())
  const manager = new SessionManager({
    logger: { warn: (...a: unknown[]) => logged.push(a), error: (...a: unknown[]) => logged.push(a) },
    ...options,
    store,
  })
  const server = await listen(manager.loadAndSave(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/put') manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
    if (url.pathname === '/login') await manager.login(req, url.searchParams.get('u') ?? 'u1')
    if (url.pathname === '/renew') await manager.renewToken(req)
    if (url.pathname === '/destroy') await manager.destroy(req)
    if (url.pathname === '/revoke') {
      res.end(String(await manager.revokeUser(url.searchParams.get('u') ?? 'u1')))
      return
    }
    manager.token(req)
    res.end(manager.sessionId(req))
  }))
  t.teardown(() => server.close())
  return { manager, store, logged, client: new Client(server.url), url: server.url }
}

declare namespace Tap { type Test = import('tap').Test }

const tokenOf = (c: Client) => c.jar.get('session') ?? ''

t.test('SessionManager events: created, committed, renewed, loggedIn, destroyed, revoked — by opaque id', async (t) => {
  const { manager, client, url } = await app(t)
  const seen: Array<[string, Record<string, unknown>]> = []
  for (const name of ['created', 'committed', 'renewed', 'loggedIn', 'destroyed', 'revoked', 'conflict', 'expired'] as const) {
    manager.on(name, (e: unknown) => seen.push([name, e as Record<string, unknown>]))
  }
  const first = await client.get('/put')
  const id = first.body
  t.match(id, /^[A-Za-z0-9_-]{22}$/)
  t.match(seen, [
    ['committed', { store: 'Spy(MemoryStore)', id, created: true, attempts: 1, conflicts: 0, rebased: false }],
    ['created', { store: 'Spy(MemoryStore)', id, userId: undefined }],
  ])
  t.equal(seen.length, 2)
  seen.length = 0
  await client.get('/put')
  t.match(seen, [['committed', { id, created: false }]], 'a second write: committed, not created')
  t.equal(seen.length, 1)
  seen.length = 0
  t.equal((await client.get('/')).body, id, 'a read-only request emits nothing')
  t.equal(seen.length, 0)

  const login = await client.get('/login?u=alice')
  const newId = login.body
  t.not(newId, id, 'login renews the token')
  t.match(seen, [
    ['committed', { id: newId, created: false }],
    ['renewed', { id: newId, previousId: id, userId: 'alice' }],
    ['loggedIn', { id: newId, userId: 'alice' }],
  ])
  t.equal(seen.length, 3)
  seen.length = 0

  const other = new Client(url)
  await other.get('/login?u=alice')
  seen.length = 0
  t.equal((await other.get('/revoke?u=alice')).body, '2')
  t.match(seen, [['revoked', { userId: 'alice', count: 2, reason: 'revokeUser' }]])
  t.equal(seen.length, 1)
  seen.length = 0

  const third = new Client(url)
  const tid = (await third.get('/put')).body
  seen.length = 0
  await third.get('/destroy')
  t.match(seen[0], ['destroyed', { id: tid, reason: 'destroy' }])

  const tokens = [tokenOf(client), tokenOf(other), tokenOf(third)].filter((x) => x !== '')
  const text = JSON.stringify(seen)
  for (const token of tokens) t.notOk(text.includes(token), 'no payload holds a token')
})

t.test('SessionManager events: conflict when a rebase overwrites a concurrent put of the same key', async (t) => {
  const { manager, store, client } = await app(t)
  await client.get('/put')
  store.delay = 30
  const conflicts: unknown[] = []
  const commits: Array<{ attempts: number; conflicts: number; rebased: boolean }> = []
  manager.on('conflict', (e) => conflicts.push(e))
  manager.on('committed', (e) => commits.push(e))
  await Promise.all(Array.from({ length: 5 }, () => client.get('/put')))
  t.equal((await client.get('/')).status, 200)
  store.delay = 0
  // Each /put is put(n, n + 1): a rebase onto another's commit overwrites its n.
  t.ok(conflicts.length >= 1, `conflicts reported (${conflicts.length})`)
  t.match(conflicts[0], { key: 'n', kind: /^(rebase|retry)$/, attempt: Number })
  t.equal(commits.length, 5)
  const rebases = commits.reduce((n, c) => n + c.conflicts, 0)
  t.ok(rebases >= conflicts.length, `committed counts every rebase (${rebases}), conflict only overwritten puts (${conflicts.length})`)
  t.ok(commits.some((c) => c.rebased))
})

t.test('SessionManager events: expired when a stored session is found past its expiry', async (t) => {
  let now = Date.now()
  // A lazy store that hands back whatever it holds: the manager judges the expiry.
  const map = new Map<string, Uint8Array>()
  const lazy: Store = {
    name: 'LazyStore',
    find: async (key) => map.get(key),
    commit: async (key, data) => { map.set(key, data) },
    delete: async (key) => { map.delete(key) },
  }
  const { manager, client } = await app(t, { store: lazy, lifetime: '1h', idleTimeout: '10m', now: () => now })
  const id = (await client.get('/put')).body
  const expired: unknown[] = []
  manager.on('expired', (e) => expired.push(e))
  now += 11 * 60_000
  const reply = await client.get('/')
  t.not(reply.body, id)
  t.match(expired, [{ id, source: 'load' }])
})

t.test('SessionManager events: a throwing or rejecting listener is logged, the request goes on', async (t) => {
  const { manager, client, logged } = await app(t)
  let later = 0
  manager.on('committed', () => { throw new Error('listener bug') })
  manager.on('committed', async () => { throw new Error('async listener bug') })
  manager.once('committed', () => { later++ })
  const reply = await client.get('/put')
  t.equal(reply.status, 200)
  t.equal(reply.setCookies.length, 1)
  await new Promise((r) => setImmediate(r))
  t.equal(later, 1, 'later listeners still ran')
  await client.get('/put')
  t.equal(later, 1, 'once stays once')
  t.equal(logged.filter((l) => String((l as unknown[])[0]).includes('listener failed')).length, 4)
})

t.test('diagnostics_channel: session-manager:<event> and the session-manager:store tracing channel', async (t) => {
  const { client } = await app(t)
  const created: unknown[] = []
  const onCreated = (m: unknown) => created.push(m)
  subscribe('session-manager:created', onCreated)
  const calls: StoreCallContext[] = []
  const starts: string[] = []
  const handlers = {
    start: (c: StoreCallContext) => starts.push(c.operation),
    end: () => {},
    asyncStart: () => {},
    asyncEnd: (c: StoreCallContext) => calls.push({ ...c }),
    error: () => {},
  }
  storeChannel.subscribe(handlers)
  t.teardown(() => {
    unsubscribe('session-manager:created', onCreated)
    storeChannel.unsubscribe(handlers)
  })
  const id = (await client.get('/put')).body
  await client.get('/')
  t.match(created, [{ id }])
  t.same(starts, ['commit', 'find'])
  t.match(calls, [
    { store: 'Spy(MemoryStore)', operation: 'commit', attempts: 1, outcome: 'ok' },
    { store: 'Spy(MemoryStore)', operation: 'find', attempts: 1, outcome: 'ok' },
  ])
})

t.test('diagnostics_channel: a failing store call is traced with its outcome and error', async (t) => {
  const { store, client } = await app(t)
  await client.get('/put')
  const failed: StoreCallContext[] = []
  const handlers = {
    start: () => {}, end: () => {}, asyncStart: () => {},
    asyncEnd: (c: StoreCallContext) => { if (c.error !== undefined) failed.push({ ...c }) },
    error: () => {},
  }
  storeChannel.subscribe(handlers)
  t.teardown(() => storeChannel.unsubscribe(handlers))
  store.mode = 'down'
  t.equal((await client.get('/')).status, 500)
  store.mode = 'up'
  t.match(failed, [{ operation: 'find', outcome: 'error', error: { code: 'ERR_STORE', store: 'Spy(MemoryStore)' } }])
})

t.test('SessionManager events: with hashTokenInStore false, no payload holds the token (it is the store key)', async (t) => {
  const { manager, client } = await app(t, { hashTokenInStore: false })
  const payloads: unknown[] = []
  for (const name of ['created', 'committed', 'renewed', 'loggedIn', 'destroyed'] as const) manager.on(name, (e: unknown) => payloads.push(e))
  await client.get('/put')
  const before = tokenOf(client)
  await client.get('/login?u=bob')
  const token = tokenOf(client)
  await client.get('/destroy')
  t.equal(payloads.length, 6)
  t.match(token, /^[A-Za-z0-9_-]{43}$/)
  for (const tk of [before, token]) t.notOk(JSON.stringify(payloads).includes(tk.slice(0, 16)), 'no token, not even a part of one')
})

t.test('SessionManager events: revoked with reason sessionLimit when a singleSession login evicts', async (t) => {
  const { manager, url } = await app(t, { singleSession: true })
  const revoked: unknown[] = []
  manager.on('revoked', (e) => revoked.push(e))
  await new Client(url).get('/login?u=carol')
  t.same(revoked, [], 'the first login evicts nobody (no event for zero)')
  await new Client(url).get('/login?u=carol')
  t.match(revoked, [{ userId: 'carol', count: 1, reason: 'sessionLimit' }])
  t.equal(revoked.length, 1)
})
