/**
 * EtcdStore.watchExpiry through SessionManager.watchExpiry against the real etcd
 * (ETCD_URL, default 127.0.0.1:23790), over real HTTP. Two kinds of app instance share
 * one prefix: the ones serving HTTP talk to etcd directly; the watching one talks to it
 * through a TCP proxy (test/helpers/tcp-proxy.ts), so its connection can be dropped
 * without disturbing etcd or the others. Sessions that etcd's leases remove are
 * reported as `expired` (source 'store'); destroyed, revoked and forwarded ones are
 * not; after the proxy cut, the watch resumes from its revision and reports what
 * expired meanwhile, still without a delete made meanwhile. 1 s lease buckets and
 * 1 s lifetimes: an expiry is reported 2 to 4 s after the session's creation.
 */
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { type ExpiredEvent, SessionManager, type SessionManagerOptions } from '../../lib/index.js'
import { EtcdStore } from '../../stores/etcd.js'
import { listen, type Running } from '../helpers/http.js'
import { etcdClient, etcdSessions } from '../helpers/etcd.js'
import { until as waitUntil } from '../helpers/expiry.js'
import { reachable } from '../helpers/service.js'
import { tcpProxy } from '../helpers/tcp-proxy.js'

const url = process.env.ETCD_URL ?? 'http://127.0.0.1:23790'
const prefix = `etcd-expiry:${randomBytes(4).toString('hex')}:`
const connect = etcdClient
const direct = connect(url)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const until = (what: string, check: () => boolean | Promise<boolean>, ms = 20_000) => waitUntil(what, check, ms)
const { stored, create } = etcdSessions(direct, prefix)

t.teardown(async () => {
  await direct.delete().prefix(prefix).catch(() => {})
  direct.close()
})

/** An app instance serving HTTP on `store` (directly on etcd), sharing `prefix`. */
async function app(t: Test, options: Partial<SessionManagerOptions> & { leaseBucket?: number }): Promise<{ manager: SessionManager; server: Running }> {
  const { leaseBucket = 1000, ...rest } = options
  const store = new EtcdStore(direct, { leaseBucket })
  const manager = new SessionManager({ store, prefix, lifetime: 1000, ...rest })
  const server = await listen(manager.loadAndSave(async (req, res) => {
    const path = req.url ?? '/'
    if (path === '/destroy') await manager.destroy(req)
    else if (path.startsWith('/login/')) await manager.login(req, path.slice('/login/'.length))
    else manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
    if (path !== '/destroy') manager.token(req) // gives a new session its key (and id) now
    res.end(manager.sessionId(req))
  }))
  t.teardown(async () => {
    await server.close()
    await store.close()
  })
  return { manager, server }
}

/** The watching instance: its own client through a proxy; its `expired` events and warnings. */
async function watching(t: Test) {
  const { port, hostname } = new URL(url)
  const proxy = await tcpProxy(hostname, Number(port))
  const client = connect(proxy.url)
  const store = new EtcdStore(client, { leaseBucket: 1000, timeout: 3000 })
  const warnings: unknown[] = []
  const manager = new SessionManager({ store, prefix, logger: { warn: (_m, e) => warnings.push(e), error: (_m, e) => warnings.push(e) } })
  const expired: ExpiredEvent[] = []
  manager.on('expired', (e) => expired.push(e))
  const stop = await manager.watchExpiry()
  t.teardown(async () => {
    await stop()
    await store.close()
    client.close()
    await proxy.close()
  })
  return { proxy, store, expired, warnings, stop, ids: () => expired.map((e) => e.id) }
}

if (await reachable(t, `etcd at ${url}`, () => direct.get('probe').string())) {
  t.test('SessionManager.watchExpiry on etcd: lease expiries reported, destroy and revokeUser not, each once; stop ends it', async (t) => {
    const w = await watching(t)
    const short = await app(t, {})
    const long = await app(t, { lifetime: 3000 })
    const a = await create(short.server)
    const destroyed = await create(long.server)
    t.equal((await destroyed.client.get('/destroy')).status, 200)
    const user = await create(long.server)
    const revokedId = (await user.client.get('/login/u1')).body
    t.equal(await long.manager.revokeUser('u1'), 1, 'revokeUser deleted the session')
    const b = await create(short.server)

    await until('both expiries', () => w.ids().includes(a.id) && w.ids().includes(b.id))
    t.match(w.expired.find((e) => e.id === a.id), { store: 'EtcdStore', id: a.id, source: 'store' })
    // A 3 s session created after them: once it is reported, the leases the destroyed and
    // revoked ones had have ended too, and the watch has seen every delete of theirs.
    const marker = await create(long.server)
    await until('the 3 s session to expire', () => w.ids().includes(marker.id))
    t.notOk(w.ids().includes(destroyed.id), 'a destroyed session is not reported')
    t.notOk(w.ids().includes(revokedId), 'a revoked session is not reported')
    t.equal(new Set(w.ids()).size, w.ids().length, 'no session reported twice')
    t.same(w.warnings, [], 'no watch failure')

    await w.stop()
    const c = await create(short.server)
    t.ok(c.key, 'the session key is found in etcd')
    await until('its removal by the lease', c.gone)
    await sleep(500)
    t.notOk(w.ids().includes(c.id), 'nothing reported after stop()')
  })

  t.test('EtcdStore.close stops its watches; a forward keeps its kind through touch; old entries are sessions', async (t) => {
    const store = new EtcdStore(direct, { leaseBucket: 1000 })
    const reported: string[] = []
    const errors: unknown[] = []
    await store.watchExpiry(prefix, (k) => reported.push(k), { onError: (e) => errors.push(e) })
    await store.commit(`${prefix}closed`, new Uint8Array([1]), new Date(Date.now() + 500))
    await store.close()
    await until('its removal by the lease', async () => !(await stored()).includes(`${prefix}closed`))
    await sleep(500)
    t.same(reported, [], 'nothing reported after close()')
    t.same(errors, [], 'stopping is no error')

    const fwd = `${prefix}fwd`
    await store.commitIfVersion(fwd, new Uint8Array([7]), new Date(Date.now() + 60_000), undefined, { forward: true })
    const kind = async () => (await direct.get(fwd).buffer())?.[0]
    t.equal(await kind(), 3, 'written as a forward')
    await store.touch(fwd, new Date(Date.now() + 120_000))
    t.equal(await kind(), 3, 'touch keeps it a forward')
    t.same([...(await store.find(fwd)) ?? []], [7], 'read like a session')
    await direct.put(`${prefix}old`).value(Buffer.from([1, 0, 0, 0x7f, 0, 0, 0, 0, 0, 9])) // kind 1, far expiry: written before kind 3
    t.same([...(await store.find(`${prefix}old`)) ?? []], [9], 'an entry written before is read as a session')
    await t.rejects(new EtcdStore({ kv: direct.kv, leaseClient: direct.leaseClient, prefix: Buffer.alloc(0) }).watchExpiry(prefix, () => {}), { code: 'ERR_CONFIG' }, 'a client without watch() is refused')
  })

  t.test('SessionManager.watchExpiry on etcd: the lapse of a renewal\'s forward is not reported', async (t) => {
    const w = await watching(t)
    // A clock 59 s behind: the login's 60 s forward at the old key lapses 1 s from now.
    const shifted = await app(t, { lifetime: '1h', now: () => Date.now() - 59_000 })
    const short = await app(t, {})
    const renewed: string[] = []
    shifted.manager.on('renewed', (e) => renewed.push(e.previousId))
    const before = await create(shifted.server)
    const plain = await create(short.server)
    const newId = (await before.client.get('/login/u2')).body
    t.same(renewed, [before.id], 'the login renewed the session')
    t.not(newId, before.id)
    const kinds = async () => (await direct.getAll().prefix(before.key).buffers())[before.key]?.[0]
    t.equal(await kinds(), 3, 'the old key holds a forward (envelope kind 3)')
    await until('the forward removed by its lease', before.gone)
    // Deletes are handled in revision order: once a later one is reported, the forward's was seen.
    const later = await create(short.server)
    await until('a session created after to be reported', () => w.ids().includes(later.id))
    t.ok(w.ids().includes(plain.id), 'the plain session created alongside is reported')
    t.notOk(w.ids().includes(before.id), 'the forward at the old id is not reported')
    t.notOk(w.ids().includes(newId), 'the renewed session lives on')
    t.same(w.warnings, [], 'no watch failure')
  })

  t.test('SessionManager.watchExpiry on etcd: after its connection is cut, the watch resumes from its revision', async (t) => {
    const w = await watching(t)
    const short = await app(t, {})
    // Hour-long buckets: the lease of a session deleted during the cut outlives the cut.
    const hourly = await app(t, { lifetime: 1500, leaseBucket: 3_600_000 })
    await until('a bucket end well ahead', () => Date.now() % 3_600_000 < 3_600_000 - 60_000, 61_000)
    const a = await create(short.server)
    await until('the first expiry', () => w.ids().includes(a.id))
    const accepted = w.proxy.accepted

    w.proxy.cut()
    const cutAt = Date.now()
    const b = await create(short.server)
    const d = await create(hourly.server)
    t.equal((await d.client.get('/destroy')).status, 200, 'a live session destroyed during the cut')
    t.ok(await d.gone(), 'its key is deleted')
    await until('the lease removing a session during the cut', b.gone)
    await until('the destroyed session\'s exact expiry to pass', () => Date.now() > cutAt + 2500)
    t.notOk(w.ids().includes(b.id), 'nothing reported while cut')

    w.proxy.restore()
    await until('the expiry during the cut to be reported', () => w.ids().includes(b.id), 30_000)
    t.ok(w.proxy.accepted > accepted, 'reported over a new connection')
    t.match(w.expired.find((e) => e.id === b.id), { store: 'EtcdStore', id: b.id, source: 'store' })
    const c = await create(short.server)
    await until('an expiry after the reconnect', () => w.ids().includes(c.id))
    t.notOk(w.ids().includes(d.id), 'the delete during the cut is not reported, though replayed after its expiry (its lease lives)')
    t.equal(new Set(w.ids()).size, w.ids().length, 'no session reported twice')
    t.ok(w.warnings.length > 0, 'the disconnect went to onError (the manager\'s logger.warn)')
  })
}
