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
import { Etcd3, isRecoverableError } from 'etcd3'
import { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, retry } from 'cockatiel'
import { type ExpiredEvent, SessionManager, type SessionManagerOptions } from '../../lib/index.js'
import { EtcdStore } from '../../stores/etcd.js'
import { Client, listen, type Running } from '../helpers/http.js'
import { reachable } from '../helpers/service.js'
import { tcpProxy } from '../helpers/tcp-proxy.js'

const url = process.env.ETCD_URL ?? 'http://127.0.0.1:23790'
const prefix = `etcd-expiry:${randomBytes(4).toString('hex')}:`
/** The docs' recommended client settings, with a watch backoff capped at 1 s. */
const connect = (hosts: string) => {
  const recoverable = handleWhen(isRecoverableError)
  return new Etcd3({
    hosts,
    dialTimeout: 1000,
    faultHandling: {
      host: () => circuitBreaker(recoverable, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(recoverable, { maxAttempts: 3 }),
      // etcd3 takes a backoff state (it calls next() itself): the factory's first one.
      watchBackoff: new ExponentialBackoff({ maxDelay: 1000 }).next(),
    },
  })
}
const direct = connect(url)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}
/** Session keys (and sidecars) the app instances left in etcd. */
const stored = async () => direct.getAll().prefix(prefix).keys()

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
    const create = async (server: Running) => {
      const client = new Client(server.url)
      return { client, id: (await client.get('/')).body }
    }

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
    const before = new Set(await stored())
    const c = await create(short.server)
    const [key] = (await stored()).filter((k) => !before.has(k) && !k.includes('\0'))
    t.ok(key, 'the session key is found in etcd')
    await until('its removal by the lease', async () => !(await stored()).includes(key as string))
    await sleep(500)
    t.notOk(w.ids().includes(c.id), 'nothing reported after stop()')
  })
}
