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
import { retrySuite, settle } from '../helpers/retry-suite.js'
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
const reader = new EtcdStore(direct.namespace(prefix))

retrySuite(t, 'EtcdStore', {
  store: new EtcdStore(ns, { timeout: 1000 }),
  proxy,
  stored: async (key) => text(await reader.find(key)),
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

t.test('isRetryable: election and connection errors yes; others no', async (t) => {
  const named = (name: string, message: string) => Object.assign(new Error(message), { name })
  for (const e of [
    named('GRPCUnavailableError', '14 UNAVAILABLE: No connection established'),
    named('GRPCDeadlineExceededError', '4 DEADLINE_EXCEEDED: Deadline exceeded'),
    named('BrokenCircuitError', 'Execution prevented because the circuit breaker is open'),
    new Error('etcdserver: leader changed'),
    new Error('etcdserver: request timed out'),
    new Error('etcdserver: no leader'),
    named('GRPCUnknownError', '2 UNKNOWN: context deadline exceeded'),
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
