/**
 * Redis Cluster primary kill under load (issue 20): two app processes on a RedisStore
 * over a `Cluster` with `clusterClientOptions` (docs/stores/redis.md), 200 browsers
 * reading and writing their own sessions — spread over all three primaries' slots —
 * one primary SIGKILLed 3 s in, its replica promoted by the cluster: no request may
 * fail, no acknowledged write may be lost or applied twice. The killed node is
 * restarted by the up script (it rejoins as a replica) so the cluster is whole again.
 * Then a fault that outlasts the retry window: a primary and its replica SIGSTOPped
 * for longer than storeTimeout (the cluster goes down: it requires full coverage) must
 * give clean, bounded 500s, and the same apps serve again after SIGCONT.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { checkAlive, readerApp, startFaultApps, type FaultAppConfig } from '../helpers/fault-apps.js'
import { assertCleanOutage, assertRodeOut, faultLoad, readBack, stopped } from '../helpers/fault-load.js'
import { clusterNodes, isLivePrimary, redisPid, upCluster } from '../helpers/redis-nodes.js'
import { takeTurns } from '../helpers/exclusive.js'
import { reachable } from '../helpers/service.js'

const ports = [7000, 7001, 7002, 7003, 7004, 7005]
const healthy = async () => {
  const nodes = await clusterNodes(ports)
  if (nodes.filter(isLivePrimary).length !== 3) throw new Error('the cluster has not 3 live primaries')
}
if (!(await reachable(t, 'the Redis Cluster at 127.0.0.1:7000-7005', healthy))) process.exit()
// redis-cluster.test.ts and redis-expiry-cluster.test.ts use or kill the primaries too: one at a time.
await takeTurns(t, 'redis-cluster')
await takeTurns(t, 'fault-load') // after the service's own turn, as every file takes them: one full-CPU load at a time
t.teardown(upCluster)

t.test('Cluster primary SIGKILLed under 200 browsers: no failed request, nothing lost or doubled', async (t) => {
  await upCluster() // an earlier run may have left a node rejoining
  // The store's default 5 s window outlasts the failover: here a promotion takes
  // 3.6-4.2 s from the SIGKILL (cluster-node-timeout 2000 plus the replica's election
  // delay). With a 4 s window the requests sent at the kill ran out of it just as the
  // replica took over ("Too many Cluster redirections … MOVED" at the window's end: 1
  // and 3 failed requests in the 2 of 4 runs whose promotion took 3.96 and 4.16 s).
  // storeTimeout stays above the window, as docs/stores/redis.md advises for a Cluster.
  const cfg: FaultAppConfig = {
    kind: 'redis-cluster',
    prefix: `fault-${randomBytes(4).toString('hex')}:`,
    storeTimeout: 6500,
  }
  const apps = await startFaultApps(t, cfg)
  const nodes = await clusterNodes(ports)
  const victim = nodes.filter(isLivePrimary)[0]!
  const replica = nodes.find((n) => n.master === victim.id)
  t.ok(replica, `primary 127.0.0.1:${victim.port} has a replica`)
  const pid = await redisPid(victim.port)
  t.ok(pid > 0, `primary 127.0.0.1:${victim.port} is pid ${pid}`)
  let promoted = -1
  const load = await faultLoad({
    urls: apps.map((a) => a.url),
    fault: async () => {
      const killedAt = Date.now()
      process.kill(pid, 'SIGKILL')
      while (Date.now() - killedAt < 20_000) {
        const view = await clusterNodes([replica!.port]).catch(() => [])
        if (view.some((n) => n.port === replica!.port && isLivePrimary(n))) {
          promoted = Date.now() - killedAt
          break
        }
        await sleep(50)
      }
    },
  })
  t.ok(promoted > 0, `127.0.0.1:${replica?.port} promoted ${promoted} ms after the SIGKILL`)
  checkAlive(t, apps)
  const back = await readBack(load, await readerApp(t, cfg))
  assertRodeOut(t, `redis cluster primary kill (127.0.0.1:${victim.port}; replica promoted after ${promoted} ms)`, load, back)
  const restart = Date.now()
  await upCluster()
  const after = await clusterNodes(ports)
  t.ok(after.find((n) => n.port === victim.port)?.flags.includes('slave'), `the killed node rejoined as a replica (${Date.now() - restart} ms)`)
})

t.test('Cluster: a primary and its replica stopped past storeTimeout: bounded 500s, then the same apps serve again', async (t) => {
  await upCluster()
  const storeTimeout = 5000 // the default, with the default 4 s window
  const cfg: FaultAppConfig = { kind: 'redis-cluster', prefix: `fault-${randomBytes(4).toString('hex')}:`, storeTimeout }
  const apps = await startFaultApps(t, cfg)
  const nodes = await clusterNodes(ports)
  const primary = nodes.filter(isLivePrimary)[0]!
  const replica = nodes.find((n) => n.master === primary.id)!
  const hold = 2 * storeTimeout + 1000
  const stop = stopped(await Promise.all([primary.port, replica.port].map(redisPid)), hold)
  t.teardown(stop.resume) // never leave them stopped
  const load = await faultLoad({ urls: apps.map((a) => a.url), faultAt: 2000, duration: 2000 + hold + 8000, fault: stop.fault })
  const back = await readBack(load, await readerApp(t, cfg))
  assertCleanOutage(t, `redis cluster, primary ${primary.port} and replica ${replica.port} stopped ${hold} ms`, load, back, storeTimeout, stop.resumedAt(load))
  checkAlive(t, apps)
  await upCluster()
  t.equal((await clusterNodes(ports)).filter(isLivePrimary).length, 3, 'three live primaries again')
})
