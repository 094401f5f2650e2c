/**
 * Benchmark harness (issue 9): this library against express-session (+ connect-redis),
 * @fastify/session, koa-session and iron-session, and each bare framework.
 *
 * What it measures, per contender and scenario (S0 bare, S1 anonymous, S2 read,
 * S3 write, S4 new; see bench/README.md):
 * - req/s: median over rounds; rounds interleave the contenders (the order rotates
 *   every round), so machine drift spreads over all of them;
 * - p99 latency (autocannon, from this process: client and server are separate processes);
 * - server CPU µs per request: utime + stime of the server process from /proc/PID/stat;
 * - store commands per request: Redis commands the server sent (MONITOR on a dedicated
 *   redis-server this harness starts), Redis calls under load (INFO commandstats diff),
 *   Postgres queries the server's pool sent (`/__queries`, a counted pool in the bench
 *   server), and this library's Store method calls (`/__stats`);
 * - memory per session for the memory stores (heap after GC, before/after N sessions);
 * - concurrency: 50 concurrent requests on one session, each putting its own key; keys kept.
 * - hot session: 50 concurrent requests on one session, each adding 1 to one counter
 *   (ours: `increment`; peers: read, add, write); increments kept.
 *
 *   npm run bench                 # full: 3 rounds × 5 s, ~20 min on 2 cores
 *   npm run bench:quick           # smoke: 1 round × 2 s, a few contenders, < 2 min
 *   npm run bench -- --only ours-node-redis,fastify-session-redis --scenarios S2,S3
 *   npm run bench -- --cpu-prof ours-node-redis   # V8 profile into bench/results/profiles/
 *   npm run bench:hono            # Hono on Node and Bun vs @hono/session, hono-sessions (issue 16)
 *
 * Only 127.0.0.1 is ever targeted; every run is bounded in time. Never part of `npm test`.
 */
import { cpus, totalmem } from 'node:os'
import { readFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Agent } from 'node:http'
import { execFileSync } from 'node:child_process'
import { type Contender, CONTENDERS, SCENARIO_ORDER, SCENARIOS, type Scenario, unavailable } from './lib/contenders.js'
import { get, load, newSessions } from './lib/load.js'
import { commandStats, diffStats, monitor, startRedis, type BenchRedis } from './lib/redis.js'
import { contenderNames, evaluateTargets, markdown } from './lib/report.js'
import { cpuMicros, killAll, type Running, startServer, stopServer } from './lib/server.js'
import { type Cell, type ContenderInfo, mean, median, perRequest, type Results, type StoreCalls } from './lib/stats.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    only: { type: 'string' },
    scenarios: { type: 'string' },
    'cpu-prof': { type: 'string' },
    readme: { type: 'boolean' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})
if (args.help) {
  console.log('usage: node --import tsx bench/run.ts [--quick] [--rounds N] [--seconds N] [--warmup N] [--connections N]\n' +
    '  [--only name,name] [--scenarios S1,S2] [--cpu-prof name,name] [--readme] [--out name (bench/results/name.json)]\n' +
    `contenders: ${contenderNames().join(', ')}`)
  process.exit(0)
}

const quick = args.quick
const custom = args.only !== undefined || args.scenarios !== undefined || args.rounds !== undefined || args.seconds !== undefined
const config = {
  rounds: Number(args.rounds ?? (quick ? 1 : 3)),
  seconds: Number(args.seconds ?? (quick ? 2 : 5)),
  warmup: Number(args.warmup ?? (quick ? 0.5 : 1)),
  connections: Number(args.connections ?? 10),
  sessionsPerRun: 64,
}
const opsRequests = quick ? 10 : 20
const memorySessions = quick ? 5_000 : 20_000
const concurrencyTrials = quick ? 3 : 5
const wanted = args.only?.split(',').map((s) => s.trim()).filter(Boolean)
const scenarioFilter = args.scenarios?.split(',').map((s) => s.trim().toUpperCase()) as Scenario[] | undefined
const profiled = new Set(args['cpu-prof']?.split(',').map((s) => s.trim()))

const log = (...parts: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...parts)
const started = Date.now()

function machine(): Results['machine'] {
  const info = readFileSync('/proc/cpuinfo', 'utf8')
  const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown'
  return {
    cpu: model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  }
}

// ---- contenders -----------------------------------------------------------------

let redis: BenchRedis | undefined
const running = new Map<string, Running>()
let shuttingDown = false
async function shutdown(code: number): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true
    killAll()
    await redis?.stop().catch(() => undefined)
  }
  process.exit(code)
}
process.on('SIGINT', () => void shutdown(130))
process.on('SIGTERM', () => void shutdown(143))

// This library's contenders run the compiled dist/, as users do: build it from the sources first.
log('building dist/ (tsc -p tsconfig.build.json)')
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' })

try {
  redis = await startRedis()
} catch (err) {
  log(`!! ${String(err)}: Redis contenders skipped`)
}
const results: Results = {
  mode: quick ? 'quick' : custom ? 'custom' : 'full',
  started: new Date(started).toISOString(),
  machine: machine(),
  config,
  contenders: [],
  cells: [],
  storeCalls: {},
  memory: {},
  concurrency: {},
  hot: {},
  targets: [],
}
if (redis !== undefined) results.machine.redis = /redis_version:(\S+)/.exec(await redis.client.info('server'))?.[1]

const chosen: Contender[] = CONTENDERS.filter((c) =>
  wanted !== undefined ? wanted.some((w) => c.name === w || c.name.includes(w)) : c.optIn !== true && (!quick || c.quick),
)
const infos = new Map<string, ContenderInfo>()
for (const c of chosen) {
  const why = unavailable(c, root, redis !== undefined)
  const info: ContenderInfo = { name: c.name, kind: c.kind, framework: c.framework, store: c.store, status: why === undefined ? 'ok' : 'not available', ...(why === undefined ? {} : { note: why }) }
  infos.set(c.name, info)
  results.contenders.push(info)
  if (why !== undefined) log(`-- ${c.name}: ${why}`)
}
const live = () => chosen.filter((c) => infos.get(c.name)?.status === 'ok')
const scenariosOf = (c: Contender) => c.scenarios.filter((s) => scenarioFilter === undefined || scenarioFilter.includes(s))

function fail(c: Contender, why: string): void {
  const info = infos.get(c.name)
  if (info === undefined || info.status !== 'ok') return
  info.status = 'failed'
  info.note = why.split('\n').slice(0, 4).join(' | ')
  log(`!! ${c.name} failed: ${why}`)
}

async function start(c: Contender): Promise<Running | undefined> {
  try {
    const s = await startServer(c, {
      root,
      redisUrl: redis?.url ?? 'redis://127.0.0.1:6390/0',
      ...(profiled.has(c.name) ? { cpuProfDir: join(root, 'bench/results/profiles') } : {}),
    })
    running.set(c.name, s)
    return s
  } catch (err) {
    fail(c, `did not start: ${(err as Error).message}`)
    return undefined
  }
}

async function stop(c: Contender): Promise<void> {
  const s = running.get(c.name)
  running.delete(c.name)
  if (s !== undefined) await stopServer(s)
}

const alive = (s: Running) => s.child.exitCode === null && s.child.signalCode === null

// ---- phases -----------------------------------------------------------------------

/** Store calls and Redis commands per request, from a few sequential requests. */
async function countOps(c: Contender, s: Running): Promise<void> {
  const out: Partial<Record<Scenario, StoreCalls>> = {}
  for (const scenario of scenariosOf(c)) {
    const path = SCENARIOS[scenario].path
    const cookie = SCENARIOS[scenario].cookie ? ((await newSessions(s.port, 1))[0] as string) : ''
    const before = c.kind === 'ours' ? (JSON.parse((await get(s.port, '/__stats')).body) as Record<string, number>) : undefined
    const sql = async () => JSON.parse((await get(s.port, '/__queries')).body) as Record<string, number>
    const sqlBefore = c.store === 'postgres' ? await sql() : undefined
    const run = async () => {
      for (let i = 0; i < opsRequests; i++) {
        const r = await get(s.port, path, cookie)
        if (r.status !== 200) throw new Error(`${path}: status ${r.status}`)
      }
    }
    const calls: StoreCalls = {}
    if (c.store === 'redis' && redis !== undefined) {
      const m = await monitor(redis.url, run)
      calls.redisSent = perRequest(m.sent, opsRequests)
      calls.redisInScripts = perRequest(m.inScripts, opsRequests)
    } else await run()
    if (sqlBefore !== undefined) {
      const after = await sql()
      calls.sqlQueries = perRequest(new Map(Object.entries(after).map(([k, v]) => [k, v - (sqlBefore[k] ?? 0)] as [string, number])), opsRequests)
    }
    if (before !== undefined) {
      const after = JSON.parse((await get(s.port, '/__stats')).body) as Record<string, number>
      const diff = new Map(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)] as [string, number]).filter(([, v]) => v > 0))
      calls.storeCalls = perRequest(diff, opsRequests)
    }
    out[scenario] = calls
  }
  results.storeCalls[c.name] = out
}

/**
 * 50 concurrent requests on one session, then what the session kept, per trial:
 * `puts` — each puts its own key (keys kept); `increments` — each adds 1 to one
 * counter (increments kept).
 */
async function concurrency(c: Contender, s: Running, kind: 'puts' | 'increments'): Promise<void> {
  const kept: number[] = []
  const [write, read] = kind === 'puts' ? [(i: number) => `/c/put?k=c_${i}`, '/c/count'] : [() => '/c/inc', '/c/hot']
  for (let t = 0; t < concurrencyTrials; t++) {
    let jar = (await newSessions(s.port, 1))[0] as string
    const agent = new Agent({ keepAlive: false, maxSockets: 50 })
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        get(s.port, write(i), jar, agent).then((r) => {
          // The client keeps the last cookie it receives, as a browser would.
          if (r.setCookie !== '') jar = r.setCookie
          return r
        }),
      ),
    )
    agent.destroy()
    if (replies.some((r) => r.status !== 200)) throw new Error(`a ${write(0)} failed: ${replies.find((r) => r.status !== 200)?.status}`)
    await new Promise((r) => setTimeout(r, 50))
    kept.push(Number((await get(s.port, read, jar)).body))
  }
  ;(kind === 'puts' ? results.concurrency : results.hot)[c.name] = { kept, of: 50 }
}

/** Heap per session: fresh server, heap after GC before and after `memorySessions` S4 requests. */
async function memoryPerSession(c: Contender): Promise<void> {
  const s = await start(c)
  if (s === undefined) return
  try {
    await load({ port: s.port, path: '/s4', amount: 500, connections: config.connections })
    const heap = async () => JSON.parse((await get(s.port, '/__heap')).body) as { heapUsed: number; gc: boolean }
    const before = await heap()
    const r = await load({ port: s.port, path: '/s4', amount: memorySessions, connections: config.connections })
    const after = await heap()
    results.memory[c.name] = { sessions: r.ok, bytesPerSession: (after.heapUsed - before.heapUsed) / r.ok, gc: after.gc }
  } catch (err) {
    results.memory[c.name] = { error: (err as Error).message }
  } finally {
    await stop(c)
  }
}

const cells = new Map<string, Cell>()
function cellOf(c: Contender, scenario: Scenario): Cell {
  const key = `${c.name} ${scenario}`
  let x = cells.get(key)
  if (x === undefined) {
    x = { contender: c.name, scenario, samples: [] }
    cells.set(key, x)
    results.cells.push(x)
  }
  return x
}

/** One measured run of `c` in `scenario`: warm-up, then load with CPU and Redis counters around it. */
async function measure(c: Contender, scenario: Scenario, round: number, warmup: number): Promise<void> {
  const s = running.get(c.name)
  const x = cellOf(c, scenario)
  if (s === undefined || !alive(s)) return fail(c, `server gone\n${s?.stderr() ?? ''}`)
  try {
    const { path } = SCENARIOS[scenario]
    const { cookie, oneSession } = SCENARIOS[scenario]
    const cookies = cookie ? await newSessions(s.port, oneSession === true ? 1 : config.sessionsPerRun) : undefined
    const base = { port: s.port, path, connections: config.connections, ...(cookies === undefined ? {} : { cookies }) }
    if (warmup > 0) await load({ ...base, seconds: warmup })
    const stats0 = c.store === 'redis' && redis !== undefined ? await commandStats(redis.client) : undefined
    const cpu0 = cpuMicros(s.pid)
    const r = await load({ ...base, seconds: config.seconds })
    const cpu1 = cpuMicros(s.pid)
    const stats1 = stats0 !== undefined && redis !== undefined ? await commandStats(redis.client) : undefined
    if (r.ok === 0) throw new Error(`no successful response (${r.failed} failed)\n${s.stderr()}`)
    x.samples.push({
      round,
      rps: r.rps,
      p99: r.p99,
      cpuUs: (cpu1 - cpu0) / r.ok,
      failed: r.failed,
      ...(stats0 !== undefined && stats1 !== undefined ? { redisPerReq: perRequest(diffStats(stats0, stats1), r.ok) } : {}),
    })
    if (r.failed > 0) log(`   ${c.name} ${scenario}: ${r.failed} failed requests`)
    log(`   ${c.name.padEnd(24)} ${scenario}  ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99.toFixed(1).padStart(5)} ms  ${((cpu1 - cpu0) / r.ok).toFixed(1).padStart(6)} µs/req`)
  } catch (err) {
    x.error = (err as Error).message
    if (!alive(s)) fail(c, `server died during ${scenario}: ${(err as Error).message}`)
    else log(`!! ${c.name} ${scenario}: ${(err as Error).message}`)
  }
}

function aggregate(): void {
  for (const x of results.cells) {
    if (x.samples.length === 0) continue
    x.rps = median(x.samples.map((s) => s.rps))
    x.p99 = median(x.samples.map((s) => s.p99))
    x.cpuUs = median(x.samples.map((s) => s.cpuUs))
    const redisRuns = x.samples.filter((s) => s.redisPerReq !== undefined)
    if (redisRuns.length > 0) x.redisAll = mean(redisRuns.map((s) => Object.values(s.redisPerReq ?? {}).reduce((a, b) => a + b, 0)))
  }
}

// ---- main ---------------------------------------------------------------------------

log(`bench: ${results.mode} mode, ${live().length} contenders, ${config.rounds} round(s) × ${config.seconds} s, ${config.connections} connections${redis ? `, Redis on ${redis.url}` : ''}`)
try {
  for (let round = 1; round <= config.rounds; round++) {
    log(`== round ${round}/${config.rounds}`)
    await redis?.client.flushall()
    // Fresh servers for stateful in-process stores: sessions of the last round's S4 must not weigh on this one.
    for (const c of live()) {
      const s = running.get(c.name)
      if (s !== undefined && (c.store !== 'memory' || round === 1)) continue
      await stop(c)
      await start(c)
    }
    if (round === 1) {
      log('== store commands per request and concurrency check')
      for (const c of live()) {
        const s = running.get(c.name)
        if (s === undefined || c.kind === 'bare') continue
        try {
          await countOps(c, s)
        } catch (err) {
          log(`!! ${c.name} store count: ${(err as Error).message}`)
        }
        if (scenarioFilter !== undefined || c.kind === 'floor') continue
        for (const kind of ['puts', 'increments'] as const) {
          try {
            await concurrency(c, s, kind)
          } catch (err) {
            ;(kind === 'puts' ? results.concurrency : results.hot)[c.name] = { error: (err as Error).message }
          }
        }
      }
    }
    const warmup = round === 1 ? config.warmup : config.warmup / 2
    for (const scenario of SCENARIO_ORDER) {
      const order = live().filter((c) => scenariosOf(c).includes(scenario))
      if (order.length === 0) continue
      const shift = (round - 1) % order.length
      for (const c of [...order.slice(shift), ...order.slice(0, shift)]) await measure(c, scenario, round, warmup)
    }
  }
  for (const c of live()) await stop(c)
  if (scenarioFilter === undefined || scenarioFilter.includes('S4')) {
    log('== memory per session')
    for (const c of live().filter((x) => x.store === 'memory')) await memoryPerSession(c)
  }
} finally {
  for (const c of chosen) await stop(c).catch(() => undefined)
  await redis?.stop().catch(() => undefined)
}

aggregate()
results.targets = evaluateTargets(results)
results.finished = new Date().toISOString()
results.seconds = Math.round((Date.now() - started) / 1000)

const report = markdown(results)
console.log(`\n${report}`)
const dir = join(root, 'bench/results')
mkdirSync(dir, { recursive: true })
const file = join(dir, args.out !== undefined ? `${args.out.replace(/[^\w-]/g, '')}.json` : results.mode === 'full' ? 'latest.json' : `${results.mode}.json`)
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
log(`results: ${file}`)

// The README table comes from a full run; `--readme` writes any run's (labeled with its mode).
const readme = join(root, 'bench/README.md')
if ((args.readme ?? results.mode === 'full') && existsSync(readme)) {
  const text = readFileSync(readme, 'utf8')
  const begin = '<!-- bench:results:begin -->'
  const end = '<!-- bench:results:end -->'
  const a = text.indexOf(begin)
  const b = text.indexOf(end)
  if (a !== -1 && b > a) {
    writeFileSync(readme, `${text.slice(0, a + begin.length)}\n${report}\n${text.slice(b)}`)
    log(`table written into ${readme}`)
  }
}
process.exit(0)
