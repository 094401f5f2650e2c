/**
 * EtcdStore.watchExpiry on the 3-member cluster of scripts/up-etcd.sh (ETCD_CLUSTER,
 * default 127.0.0.1:23791-23793), over real HTTP: the watching instance talks to one
 * member only. (1) Through a TCP proxy, cut while sessions expire and etcd is compacted
 * past them: what expired before the compaction is lost (and reported to onError), what
 * expired after it is reported. (2) Its member is SIGKILLed while sessions expire and
 * one is destroyed, then restarted: the watch resumes from its revision on the restarted
 * member and reports the expiries only. Takes turns with etcd-cluster.test.ts (both
 * disrupt the cluster) and leaves it healthy.
 */
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { type ExpiredEvent, SessionManager } from '../../lib/index.js'
import { EtcdStore } from '../../stores/etcd.js'
import { listen } from '../helpers/http.js'
import { etcdClient, etcdSessions } from '../helpers/etcd.js'
import { until as waitUntil } from '../helpers/expiry.js'
import { reachable } from '../helpers/service.js'
import { takeTurns } from '../helpers/exclusive.js'
import { tcpProxy } from '../helpers/tcp-proxy.js'

const endpoints = (process.env.ETCD_CLUSTER ?? 'http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793').split(',')
const root = process.env.ETCD_TEST_ROOT ?? '/tmp/session-manager'
const script = new URL('../../scripts/up-etcd.sh', import.meta.url).pathname
const prefix = `etcd-expiry-cluster:${randomBytes(4).toString('hex')}:`
const connect = etcdClient
const direct = connect(endpoints)
const until = (what: string, check: () => boolean | Promise<boolean>, ms = 30_000) => waitUntil(what, check, ms)
const { create } = etcdSessions(direct, prefix)

const ctl = (...args: string[]) =>
  execFileSync('etcdctl', [`--endpoints=${endpoints.join(',')}`, '--dial-timeout=1s', '--command-timeout=2s', ...args], {
    env: { PATH: process.env.PATH, ETCDCTL_API: '3' },
    encoding: 'utf8',
  })
/** Index (0…2) of a member that is not the leader: killing it starts no election (which would renew every lease). */
function follower(): number {
  const status = JSON.parse(ctl('endpoint', 'status', '-w', 'json')) as Array<{ Endpoint: string; Status: { header: { member_id: number }; leader: number } }>
  const one = status.find((s) => s.Status.header.member_id !== s.Status.leader)
  return endpoints.indexOf(one?.Endpoint ?? '')
}
/** Restart dead members from their data dirs and wait for health (asynchronously: HTTP keeps running). */
const up = () => promisify(execFile)('bash', [script], { encoding: 'utf8' })

/** An app instance on the whole cluster, serving HTTP (1 s lifetimes and lease buckets by default). */
async function app(t: Test, lifetime = 1000, leaseBucket = 1000) {
  const store = new EtcdStore(direct, { leaseBucket, timeout: 3000 })
  const manager = new SessionManager({ store, prefix, lifetime })
  const server = await listen(manager.loadAndSave(async (req, res) => {
    if (req.url === '/destroy') await manager.destroy(req)
    else {
      manager.put(req, 'n', 1)
      manager.token(req)
    }
    res.end(manager.sessionId(req))
  }))
  t.teardown(async () => {
    await server.close()
    await store.close()
  })
  return server
}

/** The watching instance, on `hosts` only. */
async function watching(t: Test, hosts: string) {
  const client = connect(hosts)
  const store = new EtcdStore(client, { timeout: 3000 })
  const warnings: unknown[] = []
  const manager = new SessionManager({ store, prefix, logger: { warn: (_m, e) => warnings.push(e), error: (_m, e) => warnings.push(e) } })
  const expired: ExpiredEvent[] = []
  manager.on('expired', (e) => expired.push(e))
  const stop = await manager.watchExpiry()
  t.teardown(async () => {
    await stop()
    client.close()
  })
  return { warnings, ids: () => expired.map((e) => e.id) }
}

t.teardown(async () => {
  await direct.delete().prefix(prefix).catch(() => {})
  direct.close()
})

if (await reachable(t, `etcd cluster at ${endpoints.join(',')}`, () => direct.get('probe').string())) {
  await takeTurns(t, 'etcd-cluster')
  await up()

  t.test('EtcdStore.watchExpiry after a cut with a compaction: expiries before it are lost (and said so), later ones reported', async (t) => {
    const { hostname, port } = new URL(endpoints[0] as string)
    const proxy = await tcpProxy(hostname, Number(port))
    t.teardown(() => proxy.close())
    const w = await watching(t, proxy.url)
    const server = await app(t)
    const a = await create(server)
    await until('the first expiry', () => w.ids().includes(a.id))

    proxy.cut()
    const lost = await create(server)
    await until('an expiry during the cut', lost.gone)
    const { header } = await direct.kv.range({ key: Buffer.from(prefix) })
    await direct.kv.compact({ revision: header.revision })
    const after = await create(server)
    await until('an expiry after the compaction', after.gone)
    proxy.restore()

    await until('the expiry after the compaction to be reported', () => w.ids().includes(after.id))
    t.notOk(w.ids().includes(lost.id), 'the expiry before the compaction is lost')
    t.ok(w.warnings.some((e) => /compacted revisions \d+ to \d+/.test(String((e as Error).message))), 'the gap went to onError')
    const b = await create(server)
    await until('an expiry on the restarted watch', () => w.ids().includes(b.id))
    t.equal(new Set(w.ids()).size, w.ids().length, 'no session reported twice')
  })

  t.test('EtcdStore.watchExpiry when its member is killed and restarted: expiries meanwhile reported, a destroy not', async (t) => {
    t.teardown(up)
    const victim = follower()
    t.ok(victim >= 0, 'a follower is found')
    const w = await watching(t, endpoints[victim] as string)
    const server = await app(t)
    const hourly = await app(t, 1500, 3_600_000)
    await until('a bucket end well ahead', () => Date.now() % 3_600_000 < 3_600_000 - 120_000, 121_000)
    const a = await create(server)
    await until('the first expiry', () => w.ids().includes(a.id))

    process.kill(Number(readFileSync(`${root}/etcd-c${victim + 1}.pid`, 'utf8')), 'SIGKILL')
    const killedAt = Date.now()
    const b = await create(server)
    const d = await create(hourly)
    t.equal((await d.client.get('/destroy')).status, 200, 'a live session destroyed while the member is down')
    await until('an expiry while the member is down', b.gone)
    await until('the destroyed session\'s exact expiry to pass', () => Date.now() > killedAt + 2500)
    t.notOk(w.ids().includes(b.id), 'nothing reported while the member is down')

    await up()
    await until('the expiry meanwhile to be reported', () => w.ids().includes(b.id), 60_000)
    const c = await create(server)
    await until('an expiry after the restart', () => w.ids().includes(c.id))
    t.notOk(w.ids().includes(d.id), 'the destroy meanwhile is not reported')
    t.equal(new Set(w.ids()).size, w.ids().length, 'no session reported twice')
  })
}
