/**
 * EtcdStore on the 3-member cluster of scripts/up-etcd.sh (ETCD_CLUSTER, default
 * 127.0.0.1:23791-23793): the leader is SIGKILLed by PID and sessions stay readable
 * and writable; restarted, it rejoins. Then all members die: calls reject within a
 * bound, and once they are back the same client recovers. First on the store, then
 * over real HTTP through SessionManager. One file, run in order: the tests kill the
 * members they share.
 */
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Etcd3, isRecoverableError } from 'etcd3'
// etcd3's own fault-handling library (its dependency), as docs/stores/etcd.md recommends.
import { ConsecutiveBreaker, circuitBreaker, handleWhen, retry } from 'cockatiel'
import { SessionManager } from '../../lib/index.js'
import { EtcdStore } from '../../stores/etcd.js'
import { reachable } from '../helpers/service.js'
import { Client, counterApp, listen } from '../helpers/http.js'
import { takeTurns } from '../helpers/exclusive.js'

const endpoints = (process.env.ETCD_CLUSTER ?? 'http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793').split(',')
const root = process.env.ETCD_TEST_ROOT ?? '/tmp/session-manager'
const script = new URL('../../scripts/up-etcd.sh', import.meta.url).pathname
const clients: Etcd3[] = []

/**
 * A client and store with the recommended settings (docs/stores/etcd.md): every
 * member, a short dial, a member's circuit half-open after 1 s (etcd3's default is
 * 5 s), and a store deadline over the worst election (2 x the 1 s election timeout).
 */
function connect(): { client: Etcd3; store: EtcdStore } {
  const recoverable = handleWhen(isRecoverableError)
  const client = new Etcd3({
    hosts: endpoints,
    dialTimeout: 1000,
    faultHandling: {
      host: () => circuitBreaker(recoverable, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(recoverable, { maxAttempts: 3 }),
    },
  })
  clients.push(client)
  return { client, store: new EtcdStore(client, { timeout: 3000 }) }
}
const { client, store } = connect()
const prefix = `etcd-cluster:${randomBytes(4).toString('hex')}:`
const key = (k: string) => `${prefix}${k}`
const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))
const later = (ms: number) => new Date(Date.now() + ms)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** Upper bound on a store call while members die (the 3 s deadline plus slack). */
const BOUND = 4000

const ctl = (...args: string[]) =>
  execFileSync('etcdctl', [`--endpoints=${endpoints.join(',')}`, '--dial-timeout=1s', '--command-timeout=2s', ...args], {
    env: { PATH: process.env.PATH, ETCDCTL_API: '3' },
    encoding: 'utf8',
  })

/** Member name (c1…c3) of the current leader, from `etcdctl endpoint status`. */
function leader(): string {
  const status = JSON.parse(ctl('endpoint', 'status', '-w', 'json')) as Array<{
    Endpoint: string
    Status: { header: { member_id: number }; leader: number }
  }>
  const lead = status.find((s) => s.Status.header.member_id === s.Status.leader)
  return `c${endpoints.indexOf(lead?.Endpoint ?? '') + 1}`
}

/** SIGKILL a member by the PID the script recorded. */
function kill(name: string): void {
  process.kill(Number(readFileSync(`${root}/etcd-${name}.pid`, 'utf8')), 'SIGKILL')
}

/**
 * Run the script: it restarts dead members from their data dirs and waits for health.
 * Asynchronously: a blocked event loop would break the HTTP test's keep-alive sockets.
 */
const up = () => promisify(execFile)('bash', [script], { encoding: 'utf8' })

/** Time `fn`, resolving to [ms, value or error]. */
async function timed<T>(fn: () => Promise<T>): Promise<[number, T | Error]> {
  const start = Date.now()
  const result = await fn().catch((err: Error) => err)
  return [Date.now() - start, result]
}

/** Retry `fn` until it succeeds; resolves to the ms it took. */
async function recovery(fn: () => Promise<boolean>, limit = 30_000): Promise<number> {
  const start = Date.now()
  while (Date.now() - start < limit) {
    if (await fn().catch(() => false)) return Date.now() - start
    await sleep(200)
  }
  throw new Error(`no recovery within ${limit} ms`)
}

t.teardown(async () => {
  await up()
  await client.delete().prefix(prefix).catch(() => {})
  for (const c of clients) c.close()
})

if (await reachable(t, `etcd cluster at ${endpoints.join(',')}`, () => client.get('probe').string())) {
  await takeTurns(t, 'etcd-cluster') // etcd-expiry-cluster.test.ts kills members too
  t.test('EtcdStore keeps serving when the leader is killed; it rejoins', async (t) => {
    await up()
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.commit(key(`s${i}`), bytes(`v${i}`), later(600_000))))
    const victim = leader()
    kill(victim)
    const [readMs, first] = await timed(() => store.find(key('s0')))
    t.equal(text(first as Uint8Array), 'v0', `first read after killing leader ${victim} (${readMs} ms)`)
    const [writeMs, v] = await timed(() => store.commitIfVersion(key('new'), bytes('n'), later(600_000), undefined))
    t.type(v, 'string', `a write succeeds (${writeMs} ms, includes electing a new leader)`)
    t.ok(Math.max(readMs, writeMs) < BOUND, 'within the bound')
    for (let i = 0; i < 20; i++) {
      t.equal(text(await store.find(key(`s${i}`))), `v${i}`, `s${i} readable`)
      await store.commit(key(`s${i}`), bytes(`w${i}`), later(600_000))
    }
    t.equal(text(await store.find(key('s19'))), 'w19', 'all 20 sessions read and rewritten')
    console.log(`# leader ${victim} killed: first read ${readMs} ms, first write ${writeMs} ms`)

    await up()
    const health = JSON.parse(ctl('endpoint', 'health', '-w', 'json')) as Array<{ health: boolean }>
    t.same(health.map((h) => h.health), [true, true, true], 'all three members healthy again')
    const alone = new Etcd3({ hosts: endpoints[Number(victim.slice(1)) - 1] ?? '', dialTimeout: 2000 })
    const caught = await recovery(async () => (await new EtcdStore(alone).find(key('s19'))) !== undefined, 10_000)
    alone.close()
    t.pass(`the restarted member serves the writes it missed (after ${caught} ms)`)
  })

  t.test('EtcdStore rejects within a bound when every member is down, recovers after', async (t) => {
    await up()
    await store.commit(key('keep'), bytes('kept'), later(600_000))
    for (const name of ['c1', 'c2', 'c3']) kill(name)
    const calls: Array<() => Promise<unknown>> = [
      () => store.find(key('keep')),
      () => store.commit(key('x'), bytes('x'), later(60_000)),
    ]
    // Refused connections fail each attempt at once: the store retries for its whole
    // window, then rejects.
    const down = store.retryWindow + 1000
    for (const call of calls) {
      const [ms, result] = await timed(call)
      t.type(result, Error, `rejects (${ms} ms): ${(result as Error).message?.slice(0, 80)}`)
      t.ok(ms >= store.retryWindow - 100 && ms < down, `after the retry window, within ${down} ms`)
    }
    const started = Date.now()
    await up()
    const healthy = Date.now() - started
    const back = await recovery(async () => text(await store.find(key('keep'))) === 'kept')
    console.log(`# all members down: restarted and healthy in ${healthy} ms; the same client reads ${back} ms later`)
    t.pass(`the same client reads again ${back} ms after the cluster is healthy`)
    await store.commit(key('after'), bytes('a'), later(60_000))
    t.equal(text(await store.find(key('after'))), 'a', 'and writes')
  })

  t.test('over HTTP: a killed member is invisible; all down is a bounded 500; then recovery', async (t) => {
    await up()
    // A client of its own: no circuit state left over from the outage above.
    const { store } = connect()
    const manager = new SessionManager({ store, storeTimeout: 3000, logger: { warn() {}, error() {} } })
    const server = await listen(counterApp(manager))
    t.teardown(server.close)
    const browser = new Client(server.url)
    t.equal((await browser.get('/put')).body, 'n=1')
    t.equal((await browser.get('/put')).body, 'n=2')

    const victim = leader()
    kill(victim)
    const [ms, reply] = await timed(() => browser.get('/put'))
    t.equal((reply as { body: string }).body, 'n=3', `write with leader ${victim} dead (${ms} ms)`)
    t.ok(ms < BOUND, `within ${BOUND} ms`)
    t.equal((await browser.get('/')).body, 'n=3', 'read with a member dead')
    await up()

    for (const name of ['c1', 'c2', 'c3']) kill(name)
    const [downMs, down] = await timed(() => browser.get('/put'))
    t.equal((down as { status: number }).status, 500, `all down: 500 after ${downMs} ms`)
    // The store would retry for 4 s; the manager's storeTimeout (3 s) answers first.
    t.ok(downMs < 3000 + 1000, `within storeTimeout + 1 s`)
    const [readMs, read] = await timed(() => browser.get('/'))
    t.equal((read as { status: number }).status, 500, `a read too (${readMs} ms)`)
    console.log(`# HTTP: one member dead ${ms} ms; all down: 500 in ${downMs} ms (write), ${readMs} ms (read)`)

    await up()
    const back = await recovery(async () => (await browser.get('/put')).status === 200)
    console.log(`# HTTP: 200 again ${back} ms after the cluster is healthy`)
    t.pass(`200 again ${back} ms after the cluster is healthy, same client and process`)
    t.match((await browser.get('/')).body, /^n=[45]$/, 'the session survived the outage')
  })
}
