/**
 * The failover soak of bench/soak/failover-soak.ts, 60 s of it (issue 20): mixed load
 * (S1–S4, logins, renewals, log-outs, log-outs everywhere) from 48 keep-alive
 * connections against a separate app process (bench/soak/server.ts, the sources through
 * tsx) on a RedisStore over the test suite's Sentinel group (scripts/up-redis-sentinel.sh),
 * whose primary is SIGKILLed once, 15 s into the measured 45 s, and restarted as a
 * replica. Every answer is checked against a ledger of the writes the server
 * acknowledged, and every session is read back at the end. The 30-minute version,
 * a failover every 5 minutes on a Sentinel group of its own, is bench/soak/failover.ts.
 */
import t from 'tap'
import { failoverSoak, table } from '../bench/soak/failover-soak.js'
import { primaryOf, testGroup } from '../bench/soak/sentinel.js'
import { takeTurns } from './helpers/exclusive.js'
import { unlinkMatching } from './helpers/redis-nodes.js'
import { reachable } from './helpers/service.js'

if (!(await reachable(t, `Redis Sentinel at 127.0.0.1:${testGroup.sentinels.join(',')}`, () => primaryOf(testGroup)))) process.exit()
// It kills the primary, as redis-sentinel.test.ts and redis-expiry-sentinel.test.ts do: one at a time.
await takeTurns(t, 'redis-sentinel')
await takeTurns(t, 'fault-load') // after the service's own turn, as every file takes them: one full-CPU load at a time
// Its sessions (prefix soak:<pid>:) would otherwise stay in the shared group for their lifetime.
t.teardown(() => unlinkMatching(testGroup.nodes, '*soak:*'))

/** Heap after a full GC may grow by this much from the end of the warm-up to the end
 * of the run: a leak of 30 bytes per request (~120,000 requests) exceeds it, GC noise
 * between two samples of an idle process (±0.5 MB) does not. */
const heapMarginMB = 4

t.test('failover soak: 45 s of mixed load across a Sentinel failover: no failed request, no lost or doubled write, a flat heap', async (t) => {
  const r = await failoverSoak({
    group: testGroup, seconds: 45, warmupSeconds: 8, bucketSeconds: 15, failoverEvery: 15, maxFailovers: 1,
    connections: 48, browsersPerConnection: 20, from: 'src',
  })
  console.log(`${table(r)}\n${r.ledger.examples.map((e) => `# ${e}`).join('\n')}`)
  const f = r.failovers[0]
  t.equal(r.failovers.length, 1, 'one failover ran')
  t.ok(f !== undefined && f.promoted !== f.killed, `the primary 127.0.0.1:${f?.killed} was killed and 127.0.0.1:${f?.promoted} promoted after ${f?.promotedAfterMs} ms`)
  t.ok(r.ledger.acknowledged > 1000, `the load ran: ${r.ledger.acknowledged} acknowledged writes, ${r.requests} requests`)
  t.ok(r.ledger.readBack > 100, `${r.ledger.readBack} sessions read back`)
  t.equal(r.ledger.lost, 0, 'no acknowledged write lost')
  t.equal(r.ledger.doubled, 0, 'no write applied twice')
  t.equal(r.failed, 0, `no failed request (failed by route: ${JSON.stringify(Object.fromEntries(Object.entries(r.byRoute).map(([k, v]) => [k, v.failed])))}; ` +
    `server: ${JSON.stringify(r.rows.map((x) => x.serverErrors ?? {}))})`)
  t.equal(r.ledger.orphaned, 0, 'no session ended by a failed request')
  t.ok(r.heapMB.end <= r.heapMB.warm + heapMarginMB, `heap after GC ${r.heapMB.warm} → ${r.heapMB.end} MB (margin ${heapMarginMB} MB); RSS ${r.rssMB.warm} → ${r.rssMB.end} MB`)
})
