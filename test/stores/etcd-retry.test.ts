/**
 * EtcdStore's retry window (stores/retry.ts, stores/etcd-retryable.ts), against the
 * single etcd (127.0.0.1:23790, scripts/up-etcd.sh) through a TCP proxy that drops the
 * connection or loses an answer: calls made while it is gone succeed once it is back
 * within the window and fail after it; a versioned commit whose answer was lost is
 * applied once and answered with its own version, not reported as a conflict.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Etcd3 } from 'etcd3'
import { EtcdStore } from '../../stores/etcd.js'
import { isRetryable } from '../../stores/etcd-retryable.js'
import { etcdClient } from '../helpers/etcd.js'
import { tcpProxy } from '../helpers/tcp-proxy.js'
import { reachable } from '../helpers/service.js'

const endpoint = new URL(process.env.ETCD_URL ?? 'http://127.0.0.1:23790')
const direct = new Etcd3({ hosts: endpoint.origin, dialTimeout: 2000 })
t.teardown(() => direct.close())
if (!(await reachable(t, `etcd at ${endpoint.origin}`, () => direct.get('probe').string()))) process.exit()

const proxy = await tcpProxy(endpoint.hostname, Number(endpoint.port))
t.teardown(proxy.close)
const client = etcdClient(proxy.url)
t.teardown(() => client.close())
const prefix = `test-retry-${randomBytes(4).toString('hex')}/`
const ns = client.namespace(prefix)
t.teardown(() => direct.delete().prefix(prefix))
const later = () => new Date(Date.now() + 120_000)
const bytes = (s: string) => Buffer.from(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString())
const settle = async <T>(work: Promise<T>) => {
  const begin = Date.now()
  try {
    return { value: await work, ms: Date.now() - begin }
  } catch (err) {
    return { error: err as Error, ms: Date.now() - begin }
  }
}

t.test('calls made while the connection is cut succeed once it is back within the window', async (t) => {
  const store = new EtcdStore(ns, { timeout: 1000 })
  await store.commit('a', bytes('one'), later())
  const v = (await store.findVersioned('a'))?.version
  proxy.cut()
  const calls = {
    find: settle(store.find('a')),
    commit: settle(store.commit('b', bytes('two'), later())),
    commitIfVersion: settle(store.commitIfVersion('a', bytes('three'), later(), v)),
    fresh: settle(store.commitIfVersion('c', bytes('four'), later(), undefined)),
    addToUser: settle(store.addToUser('u', 'a', later())),
    findMany: settle(store.findMany(['a', 'b'])),
    delete: settle(store.delete('gone')),
  }
  await sleep(1500)
  proxy.restore()
  const results = Object.fromEntries(await Promise.all(Object.entries(calls).map(async ([k, p]) => [k, await p] as const)))
  for (const [name, r] of Object.entries(results)) {
    t.notOk(r.error, `${name} succeeded (${r.ms} ms)${r.error ? `: ${r.error.message}` : ''}`)
    t.ok(r.ms >= 1400 && r.ms < 4500, `${name} waited for the connection, within the window (${r.ms} ms)`)
  }
  t.equal(text(results.find?.value as Uint8Array), 'one', 'the read answers')
  t.type(results.commitIfVersion?.value, 'string', 'the versioned commit succeeded')
  t.type(results.fresh?.value, 'string', 'the new session was created')
  t.equal(text(await store.find('a')), 'three', 'the versioned commit is stored')
  t.equal(text(await store.find('b')), 'two', 'the plain commit is stored')
  t.same(await store.listUser('u'), ['a'], 'the user index has the key')
})

t.test('past the window the call rejects, and the store serves again after', async (t) => {
  const store = new EtcdStore(ns, { timeout: 1000, retryWindow: 600 })
  await store.commit('w', bytes('x'), later())
  proxy.cut()
  const r = await settle(store.find('w'))
  const none = await settle(new EtcdStore(ns, { timeout: 1000, retryWindow: 0 }).find('w'))
  proxy.restore()
  t.ok(r.error, `rejected: ${r.error?.message}`)
  t.ok(isRetryable(r.error), 'with an error the store counts as retryable')
  t.ok(r.ms >= 550 && r.ms < 3000, `after the window (${r.ms} ms)`)
  t.ok(none.error, `retryWindow: 0 rejects too (${none.ms} ms): ${none.error?.message}`)
  t.ok(none.ms < r.ms, 'and sooner')
  await sleep(1100) // the breaker etcd3 opened on the host half-opens
  t.equal(text(await store.find('w')), 'x', 'the same client and store answer once the connection is back')
})

for (const fresh of [false, true]) {
  t.test(`a commitIfVersion on ${fresh ? 'no entry (a new session)' : 'a version'} whose answer is lost applies once and answers its own version`, async (t) => {
    const store = new EtcdStore(ns, { timeout: 1000 })
    const key = `lost-${String(fresh)}`
    const at = later()
    // The lease of `at` is granted, and the connection up, before answers start to be lost.
    await store.commit(fresh ? `${key}-warm` : key, bytes('before'), at)
    const expected = fresh ? undefined : (await store.findVersioned(key))?.version
    proxy.loseReplies()
    const pending = settle(store.commitIfVersion(key, bytes('after'), at, expected))
    const directStore = new EtcdStore(direct.namespace(prefix))
    for (let i = 0; i < 40 && text(await directStore.find(key)) !== 'after'; i++) await sleep(25)
    t.equal(text(await directStore.find(key)), 'after', 'etcd applied the commit')
    proxy.cut()
    await sleep(300)
    proxy.restore()
    const r = await pending
    t.notOk(r.error, `resolved (${r.ms} ms)${r.error ? `: ${r.error.message}` : ''}`)
    t.type(r.value, 'string', 'with a version, not null (a conflict it caused itself)')
    const entry = await store.findVersioned(key)
    t.equal(entry?.version, r.value, 'the version answered is the stored one')
    t.equal(text(entry?.data), 'after', 'the data is the commit')
    t.type(await store.commitIfVersion(key, bytes('next'), later(), r.value as string), 'string', 'the next commit on that version succeeds')
  })
}

t.test('isRetryable: election and connection errors yes; others no', async (t) => {
  const named = (name: string, message: string) => Object.assign(new Error(message), { name })
  for (const e of [
    named('GRPCUnavailableError', '14 UNAVAILABLE: No connection established'),
    named('GRPCDeadlineExceededError', '4 DEADLINE_EXCEEDED: Deadline exceeded'),
    named('BrokenCircuitError', 'Execution prevented because the circuit breaker is open'),
    new Error('etcdserver: leader changed'),
    new Error('etcdserver: request timed out'),
    new Error('etcdserver: no leader'),
  ]) t.ok(isRetryable(e), `retryable: ${e.message}`)
  for (const e of [
    named('EtcdLeaseInvalidError', 'etcdserver: requested lease not found'),
    named('GRPCInvalidArgumentError', 'etcdserver: too many operations in txn request'),
    named('EtcdPermissionDeniedError', 'etcdserver: permission denied'),
    'etcdserver: leader changed',
  ]) t.notOk(isRetryable(e), `not retryable: ${String(e instanceof Error ? e.message : e)}`)
})

t.test('retryWindow is validated', async (t) => {
  t.throws(() => new EtcdStore(ns, { retryWindow: -1 }), { code: 'ERR_CONFIG', message: /retryWindow/ })
  t.throws(() => new EtcdStore(ns, { retryWindow: 'soon' as unknown as number }), { code: 'ERR_CONFIG', message: /retryWindow/ })
})
