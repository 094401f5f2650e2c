/**
 * etcd leader kill under load (issue 20): two app processes on an EtcdStore over the
 * 3-member cluster of scripts/up-etcd.sh with the client settings docs/stores/etcd.md
 * recommends, 200 browsers reading and writing their own sessions, the leader
 * SIGKILLed 3 s in (the other two elect a new one): no request may fail, no
 * acknowledged write may be lost or applied twice. The member is restarted by the up
 * script afterwards and rejoins.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'
import { checkAlive, readerApp, startFaultApps, type FaultAppConfig } from '../helpers/fault-apps.js'
import { assertRodeOut, faultLoad, readBack } from '../helpers/fault-load.js'
import { etcdMembers } from '../helpers/fault-stores.js'
import { takeTurns } from '../helpers/exclusive.js'
import { reachable } from '../helpers/service.js'

const root = process.env.ETCD_TEST_ROOT ?? '/tmp/session-manager'
const up = () => promisify(execFile)('bash', [new URL('../../scripts/up-etcd.sh', import.meta.url).pathname], { encoding: 'utf8' })
/** etcdctl on `endpoints` (default: every member). */
const ctl = (args: string[], endpoints = etcdMembers) =>
  promisify(execFile)('etcdctl', [`--endpoints=${endpoints.join(',')}`, '--dial-timeout=1s', '--command-timeout=2s', ...args], {
    env: { PATH: process.env.PATH, ETCDCTL_API: '3' },
    encoding: 'utf8',
  })
interface Status { Endpoint: string; Status: { header: { member_id: number }; leader: number } }
/** Member name (c1…c3) of the current leader, as the members `except` the one named see it. */
const leader = async (except = '') => {
  const asked = etcdMembers.filter((_, i) => `c${i + 1}` !== except)
  const status = JSON.parse((await ctl(['endpoint', 'status', '-w', 'json'], asked)).stdout) as Status[]
  const lead = status.find((s) => s.Status.header.member_id === s.Status.leader)
  const i = etcdMembers.indexOf(lead?.Endpoint ?? '')
  if (i < 0) throw new Error('no leader')
  return `c${i + 1}`
}

if (!(await reachable(t, `etcd cluster at ${etcdMembers.join(',')}`, leader))) process.exit()
// etcd-cluster.test.ts and etcd-expiry-cluster.test.ts kill members too: one at a time.
await takeTurns(t, 'etcd-cluster')
await takeTurns(t, 'fault-load') // after the service's own turn, as every file takes them: one full-CPU load at a time
t.teardown(up)

t.test('etcd leader SIGKILLed under 200 browsers: no failed request, nothing lost or doubled', async (t) => {
  await up()
  // The store's defaults: each attempt's deadline (1.5 s) well inside the 4 s retry
  // window. A call sent to a follower during the election can hang until its deadline;
  // with a 3 s deadline those all expired ~3 s after the kill, opened the circuit
  // breakers of both live members at once (three consecutive failures each), and the
  // calls still retrying found every member's circuit open until their window ended (5
  // and 13 failed requests in 2 of 2 runs). storeTimeout is the default 5 s.
  const cfg: FaultAppConfig = {
    kind: 'etcd-cluster',
    prefix: `fault-${randomBytes(4).toString('hex')}:`,
    storeTimeout: 5000,
  }
  const apps = await startFaultApps(t, cfg)
  const victim = await leader()
  const pid = Number(readFileSync(`${root}/etcd-${victim}.pid`, 'utf8'))
  let elected = ''
  const load = await faultLoad({
    urls: apps.map((a) => a.url),
    fault: async () => {
      process.kill(pid, 'SIGKILL')
      for (const begin = Date.now(); (elected === '' || elected === victim) && Date.now() - begin < 20_000; ) {
        elected = await leader(victim).catch(() => '')
      }
    },
  })
  t.ok(elected !== '' && elected !== victim, `leader ${victim} SIGKILLed, ${elected} elected (${load.faultTook} ms)`)
  checkAlive(t, apps)
  const back = await readBack(load, await readerApp(t, cfg))
  assertRodeOut(t, `etcd leader kill (${victim}; ${elected} leader after ${load.faultTook} ms)`, load, back)
  await up()
  const health = JSON.parse((await ctl(['endpoint', 'health', '-w', 'json'])).stdout) as Array<{ health: boolean }>
  t.same(health.map((h) => h.health), [true, true, true], 'all three members healthy again')
})
