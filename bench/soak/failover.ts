/**
 * Failover soak (issue 20): 30 minutes of mixed load — S1 anonymous, S2 read, S3
 * write, S4 new session, logins, renewals, log-outs and log-outs everywhere — on a
 * RedisStore over Redis Sentinel, the primary SIGKILLed every 5 minutes and restarted
 * as a replica. Measures per minute requests, failed requests, p50/p99/max latency,
 * heap after a full GC and RSS of the app process; per failover the failed requests
 * and when writes succeeded again; at the end lost and doubled acknowledged writes
 * (every session read back against what the server acknowledged). Runs on its own
 * Sentinel group (bench/soak/sentinel.ts: 6480/6481, 26480-26482, "soak"), which it
 * brings up. Not a test (test/soak-failover.test.ts runs 60 s of it): by hand.
 *
 *   npm run bench:soak:failover -- [--minutes 30] [--every 5] [--connections 48]
 *     [--browsers 40] [--warmup 30] [--bucket 60] [--store-options '{"waitReplicas":1}']
 *     [--from dist|src] [--group soak|test] [--out soak-failover]
 *
 * Writes bench/results/<out>.json and prints the table as markdown. `--from dist` (the
 * default) runs the compiled library, as users do: it builds it first.
 */
import { execFileSync } from 'node:child_process'
import { cpus, totalmem } from 'node:os'
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { failoverSoak, table } from './failover-soak.js'
import { soakGroup, testGroup } from './sentinel.js'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    every: { type: 'string', default: '5' },
    connections: { type: 'string', default: '48' },
    browsers: { type: 'string', default: '40' },
    warmup: { type: 'string', default: '30' },
    bucket: { type: 'string', default: '60' },
    'store-options': { type: 'string', default: '{}' },
    from: { type: 'string', default: 'dist' },
    group: { type: 'string', default: 'soak' },
    out: { type: 'string', default: 'soak-failover' },
  },
})
const root = new URL('../../', import.meta.url).pathname
const from = values.from === 'src' ? 'src' : 'dist'
if (from === 'dist') execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
const result = await failoverSoak({
  group: values.group === 'test' ? testGroup : soakGroup,
  seconds: Number(values.minutes) * 60,
  warmupSeconds: Number(values.warmup),
  bucketSeconds: Number(values.bucket),
  failoverEvery: Number(values.every) * 60,
  connections: Number(values.connections),
  browsersPerConnection: Number(values.browsers),
  storeOptions: JSON.parse(values['store-options']) as Record<string, unknown>,
  from,
  log: (line) => console.error(line),
})
const machine = {
  cpu: cpus()[0]?.model ?? '?', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version, redis: execFileSync('redis-server', ['--version']).toString().trim(),
  commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim(),
}
writeFileSync(`${root}bench/results/${values.out}.json`, `${JSON.stringify({ machine, ...result }, null, 2)}\n`)
console.log(table(result))
if (result.ledger.examples.length > 0) console.log(`\nledger: ${result.ledger.examples.join('\n        ')}`)
