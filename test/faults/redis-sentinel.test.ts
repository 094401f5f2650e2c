/**
 * Redis Sentinel failover under load (issue 20): two app processes on a RedisStore
 * over a Sentinel client with `sentinelClientOptions` (docs/stores/redis.md), 200
 * browsers reading and writing their own sessions, the primary SIGKILLed 3 s in and
 * restarted as a replica by the up script (as a supervisor would) while the load goes
 * on: no request may fail, no acknowledged write may be lost or applied twice. With the
 * `waitReplicas: 1` and the group's one replica gone, writes cannot be
 * acknowledged until it is back: there, reads must all be served and only those writes
 * fail. Then a fault that outlasts any retry window — both data nodes SIGSTOPped for
 * longer than storeTimeout — must give clean, bounded 500s, and the same apps serve
 * again after SIGCONT.
 */
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { checkAlive, readerApp, startFaultApps, type FaultAppConfig } from '../helpers/fault-apps.js'
import { assertCleanOutage, assertRodeOut, details, faultLoad, readBack, stopped, summary } from '../helpers/fault-load.js'
import { redisPid, redisInfo, sentinelPrimary, upSentinel } from '../helpers/redis-nodes.js'
import { takeTurns } from '../helpers/exclusive.js'
import { reachable } from '../helpers/service.js'

if (!(await reachable(t, 'Redis Sentinel at 127.0.0.1:26380-26382', sentinelPrimary))) process.exit()
// redis-sentinel.test.ts and redis-expiry-sentinel.test.ts kill the primary too: one at a time.
await takeTurns(t, 'redis-sentinel')
await takeTurns(t, 'fault-load') // after the service's own turn, as every file takes them: one full-CPU load at a time
t.teardown(upSentinel)

const STORE_TIMEOUT = 5000
const config = (storeOptions: Record<string, unknown>, storeTimeout = STORE_TIMEOUT): FaultAppConfig => ({
  kind: 'redis-sentinel',
  prefix: `fault-${randomBytes(4).toString('hex')}:`,
  storeTimeout,
  storeOptions,
})
// A durable commit retried to the end of the window (the default 5 s) still waits for
// its WAIT, grouped behind another (2 × waitTimeout): storeTimeout must leave it that time.
const DURABLE_TIMEOUT = 5000 + 2 * 500 + 1500

/** Kill the current primary of `cfg`'s apps under the load; the up script restarts it as a replica meanwhile. */
async function failover(t: Test, cfg: FaultAppConfig, duration = 12_000) {
  await upSentinel() // an earlier run may have left the killed node rejoining
  const apps = await startFaultApps(t, cfg)
  const old = await sentinelPrimary()
  const pid = await redisPid(old)
  t.ok(pid > 0, `primary 127.0.0.1:${old} is pid ${pid}`)
  const load = await faultLoad({
    urls: apps.map((a) => a.url),
    duration,
    fault: async () => {
      process.kill(pid, 'SIGKILL')
      await upSentinel() // waits for the promotion, then restarts the node as a replica
    },
  })
  const promoted = await sentinelPrimary()
  t.not(promoted, old, `Sentinel promoted 127.0.0.1:${promoted}`)
  t.equal(await redisInfo(old, 'replication', 'role'), 'slave', `the killed node rejoined as a replica (the up script took ${load.faultTook} ms)`)
  checkAlive(t, apps)
  return { load, back: await readBack(load, await readerApp(t, cfg)) }
}

t.test('Sentinel failover under 200 browsers: no failed request, nothing lost or doubled', async (t) => {
  const { load, back } = await failover(t, config({}))
  assertRodeOut(t, 'redis sentinel failover', load, back)
})

// With one replica, `waitReplicas: 1` cannot be satisfied from the SIGKILL until the
// killed node is back as a replica (docs/stores/redis.md, "waitReplicas"), and a WAIT
// shortfall is never retried (the primary has the write): those writes fail by design.
// What must hold: reads are all served, the only failures are those writes, each
// bounded, nothing lost or applied twice, and writes are acknowledged again after.
t.test('Sentinel failover with waitReplicas: 1 and one replica: reads all served, only writes without a replica fail', async (t) => {
  const { load, back } = await failover(t, config({ waitReplicas: 1, waitTimeout: 500 }, DURABLE_TIMEOUT), 15_000)
  console.log(summary('redis sentinel failover, waitReplicas: 1', load, back))
  details(t, load, back)
  t.equal(load.faultError, undefined, 'the fault was injected')
  t.ok(load.acked >= 300, `the load ran: ${load.acked} acknowledged writes`)
  t.equal(load.failed - load.failedWrites, 0, `no read failed (${load.failed - load.failedWrites} did)`)
  const kinds = [...load.failures.keys()].filter((k) => !k.startsWith('500 ERR_STORE_REPLICATION:'))
  t.same(kinds, [], `every failed write failed on WAIT (ERR_STORE_REPLICATION), ${load.failedWrites} of them`)
  t.ok(load.slowest <= 2 * DURABLE_TIMEOUT, `no request took longer than its two store calls' storeTimeout (slowest ${load.slowest} ms)`)
  const lastFailure = load.failedSpan?.[1] ?? load.faultAt
  const after = load.okWrites.filter(([start]) => start > lastFailure).length
  t.ok(after > 100, `writes are acknowledged again once the replica is back (${after} after the last failure)`)
  t.equal(back.unread, 0, 'every session read back')
  t.equal(back.lost + load.seenLost, 0, 'no acknowledged write lost')
  t.equal(back.doubled + load.seenDoubled, 0, 'no write applied twice')
})

t.test('Sentinel: both data nodes stopped past storeTimeout: bounded 500s, then the same apps serve again', async (t) => {
  await upSentinel()
  const cfg = config({ waitReplicas: 1, waitTimeout: 500 })
  const apps = await startFaultApps(t, cfg)
  // Longer than the retry window and than storeTimeout itself.
  const hold = 2 * STORE_TIMEOUT + 1000
  const stop = stopped(await Promise.all([6380, 6381].map(redisPid)), hold)
  t.teardown(stop.resume) // never leave them stopped
  const load = await faultLoad({ urls: apps.map((a) => a.url), faultAt: 2000, duration: 2000 + hold + 6000, fault: stop.fault })
  const back = await readBack(load, await readerApp(t, cfg))
  assertCleanOutage(t, `redis sentinel, both data nodes stopped ${hold} ms`, load, back, STORE_TIMEOUT, stop.resumedAt(load))
  checkAlive(t, apps)
  const primary = await sentinelPrimary()
  t.ok(primary === 6380 || primary === 6381, `a primary again (127.0.0.1:${primary})`)
})
