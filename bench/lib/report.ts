/**
 * From recorded results to the targets of issue 9 (met / missed) and the markdown
 * tables printed and written into bench/README.md.
 */
import { CONTENDERS, SCENARIO_ORDER, type Scenario } from './contenders.js'
import { type Cell, type Results, sum, type Target } from './stats.js'

const SCEN: Scenario[] = SCENARIO_ORDER

const cell = (r: Results, name: string, s: Scenario): Cell | undefined =>
  r.cells.find((c) => c.contender === name && c.scenario === s && c.rps !== undefined)

const fmt = (x: number | undefined, digits = 0): string =>
  x === undefined || !Number.isFinite(x) ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? undefined : a / b)

/** Store commands (Redis: sent by the server; other stores: Store calls) per request of `name` in `s`. */
export function storeOps(r: Results, name: string, s: Scenario): number | undefined {
  const calls = r.storeCalls[name]?.[s]
  if (calls === undefined) return undefined
  const v = calls.redisSent !== undefined ? sum(calls.redisSent) : calls.sqlQueries !== undefined ? sum(calls.sqlQueries) : sum(calls.storeCalls)
  return Number.isFinite(v) ? v : undefined
}

/** Hono (issue 16): this library's middleware against @hono/session and hono-sessions, same store kind, same runtime. */
const HONO_PAIRS: Array<[string, string]> = (['node', 'bun'] as const).flatMap((rt) => [
  [`ours-hono-memory-${rt}`, `hono-sessions-memory-${rt}`],
  [`ours-hono-redis-${rt}`, `hono-session-redis-${rt}`],
  [`ours-hono-redis-${rt}`, `hono-sessions-redis-${rt}`],
  [`ours-hono-cookie-${rt}`, `hono-session-cookie-${rt}`],
  [`ours-hono-cookie-${rt}`, `hono-sessions-cookie-${rt}`],
] as Array<[string, string]>)

/** Evaluate the targets of issue 9 on `r`. */
export function evaluateTargets(r: Results): Target[] {
  const targets: Target[] = []
  const ok = (name: string) => r.contenders.find((c) => c.name === name)?.status === 'ok'
  const ours = r.contenders.filter((c) => c.kind === 'ours' && c.status === 'ok')

  // 1. Store commands per request: exactly 0 / 1 / 2 for S1 / S2 / S3, every store.
  for (const store of ['memory', 'redis', 'cookie', 'postgres'] as const) {
    const names = ours.filter((c) => c.store === store).map((c) => c.name)
    if (names.length === 0) continue
    const parts: string[] = []
    let met: boolean | undefined = true
    for (const name of names) {
      const v = (['S1', 'S2', 'S3'] as const).map((s) => storeOps(r, name, s))
      if (v.some((x) => x === undefined)) met = undefined
      else if (v[0] !== 0 || v[1] !== 1 || v[2] !== 2) met = false
      parts.push(`${name}: ${v.map((x) => fmt(x, 2)).join(' / ')}`)
    }
    targets.push({
      id: `store-ops-${store}`,
      text: `${store} store: store commands per request exactly 0 / 1 / 2 for S1 / S2 / S3`,
      value: parts.join('; '),
      met: met === true && names.length > 0 ? true : met,
      note:
        store === 'redis'
          ? 'Redis commands the server sent (MONITOR); Lua-internal calls not counted'
          : store === 'postgres'
            ? 'SQL queries the server\'s pool sent (counted pool.query)'
            : 'Store method calls (find/commit/… , seal/open)',
    })
  }

  // 2. S1 costs what bare costs (req/s within 10 %, noise on this machine is ~5 %).
  const bares: Array<[string, string, string]> = [
    ...(['node', 'express', 'fastify', 'koa'] as const).map((fw) => [fw, `ours-${fw}-memory`, `bare-${fw}`] as [string, string, string]),
    ...(['node', 'bun'] as const).map((rt) => [`hono on ${rt}`, `ours-hono-memory-${rt}`, `bare-hono-${rt}`] as [string, string, string]),
  ]
  for (const [fw, name, bareName] of bares) {
    const s1 = cell(r, name, 'S1')
    const s0 = cell(r, bareName, 'S0')
    if (!ok(name) || s1 === undefined || s0 === undefined) continue
    const q = ratio(s1.rps, s0.rps)
    const cpu = ratio(s1.cpuUs, s0.cpuUs)
    targets.push({
      id: `s1-${bareName}`,
      text: `${fw}: S1 costs what bare costs (req/s ≥ 0.90 × bare S0)`,
      value: `req/s ${fmt(q, 2)}×, CPU/req ${fmt(cpu, 2)}×`,
      met: q === undefined ? undefined : q >= 0.9,
    })
  }

  // 3–4. Throughput ratios.
  const pairs: Array<[string, string, Scenario, number, string]> = [
    ['ours-node-redis', 'fastify-session-redis', 'S2', 2, 'Redis over node:http: S2 ≥ 2× @fastify/session S2'],
    ['ours-node-redis', 'express-session-redis', 'S2', 2.5, 'Redis over node:http: S2 ≥ 2.5× express-session S2'],
    ['ours-node-redis', 'fastify-session-redis', 'S3', 1.7, 'Redis over node:http: S3 ≥ 1.7× @fastify/session S3'],
    ['ours-node-cookie', 'iron-session', 'S2', 6, 'cookie store: S2 ≥ 6× iron-session S2'],
  ]
  for (const [a, b, s, min, text] of pairs) {
    const ca = cell(r, a, s)
    const cb = cell(r, b, s)
    const q = ratio(ca?.rps, cb?.rps)
    targets.push({
      id: `${a}/${b}/${s}`,
      text,
      value: q === undefined ? 'not measured' : `${fmt(ca?.rps)} / ${fmt(cb?.rps)} req/s = ${fmt(q, 2)}× (CPU/req ${fmt(ratio(cb?.cpuUs, ca?.cpuUs), 2)}×)`,
      met: q === undefined ? undefined : q >= min,
    })
  }

  targets.push(...floorTargets(r))

  // 5. Concurrency: 50 of 50 kept for this library, every store — distinct keys, and one hot counter.
  for (const [table, what] of [[r.concurrency, 'concurrent puts'], [r.hot, 'concurrent increments (update)']] as const) {
    const tag = table === r.concurrency ? 'concurrency' : 'hot'
    for (const c of ours) {
      const res = table[c.name]
      if (res === undefined) continue
      const text = `${c.name}: 50 of 50 ${what} kept`
      if ('error' in res) {
        targets.push({ id: `${tag}-${c.name}`, text, value: res.error, met: undefined })
        continue
      }
      targets.push({
        id: `${tag}-${c.name}`,
        text,
        value: res.kept.join(', '),
        // A stateless store cannot merge: every response carries a whole new cookie and the client keeps the last.
        met: c.store === 'cookie' ? undefined : res.kept.every((k) => k === res.of),
        ...(c.store === 'cookie' ? { note: 'not applicable to a stateless store: each response carries a whole new cookie, the client keeps the last one' } : {}),
      })
    }
  }
  return targets
}

/**
 * The targets of issue 15: every scenario within reach of the hand-written floor
 * (`floor-node-memory`, `floor-node-redis`) and of the bare frameworks, same run.
 */
function floorTargets(r: Results): Target[] {
  const out: Target[] = []
  const against = (id: string, text: string, a: [string, Scenario], b: [string, Scenario], min: number, extra = '') => {
    const ca = cell(r, ...a)
    const cb = cell(r, ...b)
    const q = ratio(ca?.rps, cb?.rps)
    out.push({
      id,
      text,
      value: q === undefined ? 'not measured' : `${fmt(ca?.rps)} / ${fmt(cb?.rps)} req/s = ${fmt(q, 2)}× (CPU/req ${fmt(ca?.cpuUs, 1)} vs ${fmt(cb?.cpuUs, 1)} µs)${extra}`,
      met: q === undefined ? undefined : q >= min,
    })
  }
  for (const fw of ['node', 'express', 'fastify', 'koa'] as const) {
    against(`15-s1-${fw}`, `${fw}: S1 ≥ 0.95× bare ${fw} (issue 15)`, [`ours-${fw}-memory`, 'S1'], [`bare-${fw}`, 'S0'], 0.95)
  }
  for (const store of ['memory', 'redis'] as const) {
    const ours = `ours-node-${store}`
    const floor = `floor-node-${store}`
    against(`15-s2-${store}`, `${store}: S2 ≥ 0.9× the floor (issue 15)`, [ours, 'S2'], [floor, 'S2'], 0.9)
    against(`15-s3-${store}`, `${store}: S3 over many sessions ≥ 0.8× the floor (issue 15)`, [ours, 'S3'], [floor, 'S3'], 0.8)
    const hot = r.hot[ours]
    const kept = hot === undefined || 'error' in hot ? '' : `; hot check kept ${hot.kept.join(', ')} of ${hot.of}`
    against(`15-s3h-${store}`, `${store}: S3 on one hot session (increment) ≥ 0.8× the floor's S3, all writes kept (issue 15)`, [ours, 'S3H'], [floor, 'S3'], 0.8, kept)
    const t = out[out.length - 1] as Target
    if (t.met === true && (hot === undefined || 'error' in hot || hot.kept.some((k) => k !== hot.of))) t.met = false
    against(`15-s4-${store}`, `${store}: S4 ≥ 0.8× the floor (issue 15)`, [ours, 'S4'], [floor, 'S4'], 0.8)
  }
  const p99 = ratio(cell(r, 'ours-node-memory', 'S4')?.p99, cell(r, 'floor-node-memory', 'S4')?.p99)
  out.push({
    id: '15-s4-p99-memory',
    text: 'memory: S4 p99 ≤ 2× the floor\'s (issue 15)',
    value: p99 === undefined ? 'not measured' : `${fmt(cell(r, 'ours-node-memory', 'S4')?.p99, 1)} / ${fmt(cell(r, 'floor-node-memory', 'S4')?.p99, 1)} ms = ${fmt(p99, 2)}×`,
    met: p99 === undefined ? undefined : p99 <= 2,
  })
  for (const store of ['memory', 'redis'] as const) {
    const name = `ours-node-${store}`
    const v = (['S1', 'S2', 'S3', 'S4'] as const).map((s) => storeOps(r, name, s))
    out.push({
      id: `15-ops-${store}`,
      text: `${store}: store commands per request exactly 0 / 1 / 2 / 1 for S1 / S2 / S3 / S4 (issue 15)`,
      value: v.map((x) => fmt(x, 2)).join(' / '),
      met: v.some((x) => x === undefined) ? undefined : v[0] === 0 && v[1] === 1 && v[2] === 2 && v[3] === 1,
    })
  }
  return out
}

const mark = (met: boolean | undefined) => (met === true ? '✅ met' : met === false ? '❌ missed' : '— n/a')

function metricTable(r: Results, title: string, value: (c: Cell) => string, scenarios = SCEN): string {
  const rows = r.contenders.filter((c) => c.status === 'ok')
  const lines = [`**${title}**`, '', `| contender | ${scenarios.join(' | ')} |`, `|---|${scenarios.map(() => '--:').join('|')}|`]
  for (const c of rows) {
    const cells = scenarios.map((s) => {
      const x = r.cells.find((y) => y.contender === c.name && y.scenario === s)
      if (x === undefined) return ''
      if (x.error !== undefined) return 'error'
      return value(x)
    })
    lines.push(`| ${c.name} | ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

/** The whole markdown report. */
export function markdown(r: Results): string {
  const out: string[] = []
  const m = r.machine
  out.push(
    `Run: **${r.mode}** mode, ${r.started.slice(0, 16).replace('T', ' ')} UTC, ${r.config.rounds} round(s) × ${r.config.seconds} s per contender and scenario ` +
      `(+${r.config.warmup} s warm-up), ${r.config.connections} connections, ${Math.round((r.seconds ?? 0) / 60)} min in all.  `,
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}${m.redis ? `, Redis ${m.redis}` : ''}. ` +
      'Client (autocannon) and servers share the machine.',
    '',
  )
  out.push(metricTable(r, 'Requests per second (median of rounds)', (c) => fmt(c.rps)))
  out.push('')
  out.push(metricTable(r, 'Server CPU µs per request (median)', (c) => fmt(c.cpuUs, 1)))
  out.push('')
  out.push(metricTable(r, 'p99 latency, ms (median)', (c) => fmt(c.p99, 1)))
  out.push('')
  // Store calls: for Redis contenders, commands sent (MONITOR) and all calls incl. Lua (commandstats).
  const stores = ['| contender | S1 | S2 | S3 | S4 | S3H |', '|---|--:|--:|--:|--:|--:|']
  for (const c of r.contenders.filter((x) => x.status === 'ok' && x.kind !== 'bare')) {
    const cols = (['S1', 'S2', 'S3', 'S4', 'S3H'] as const).map((s) => {
      const calls = r.storeCalls[c.name]?.[s]
      const all = r.cells.find((x) => x.contender === c.name && x.scenario === s)?.redisAll
      const parts: string[] = []
      if (calls?.redisSent !== undefined) parts.push(fmt(sum(calls.redisSent), 2))
      else if (calls?.sqlQueries !== undefined) parts.push(`${fmt(sum(calls.sqlQueries), 2)} SQL`)
      else if (calls?.storeCalls !== undefined) parts.push(`${fmt(sum(calls.storeCalls), 2)} calls`)
      if (c.store === 'redis' && all !== undefined) parts.push(`(${fmt(all, 2)} all)`)
      return parts.join(' ') || '—'
    })
    if (cols.every((x) => x === '—')) continue
    stores.push(`| ${c.name} | ${cols.join(' | ')} |`)
  }
  out.push(
    '**Store commands per request** — Redis: commands the server sent (MONITOR), and in parentheses every command ' +
      'Redis ran under load, Lua-internal ones included (INFO commandstats); Postgres: queries the server\'s pool sent ' +
      '(a counting wrapper around pool.query in the bench server); this library on memory/cookie: Store method calls.',
    '',
    ...stores,
    '',
  )
  // Ratios of this library vs the same framework's peer, same store kind.
  const pairs: Array<[string, string]> = [
    ['ours-node-redis', 'express-session-redis'],
    ['ours-node-redis', 'fastify-session-redis'],
    ['ours-express-redis', 'express-session-redis'],
    ['ours-fastify-redis', 'fastify-session-redis'],
    ['ours-koa-redis', 'koa-session-redis'],
    ['ours-express-memory', 'express-session-memory'],
    ['ours-fastify-memory', 'fastify-session-memory'],
    ['ours-node-cookie', 'iron-session'],
    ['ours-express-postgres', 'express-session-postgres'],
    ['ours-koa-memory', 'koa-session-cookie'],
    ['ours-node-redis', 'floor-node-redis'],
    ['ours-node-memory', 'floor-node-memory'],
    ['fastify-session-memory', 'floor-node-memory'],
    ['express-session-memory', 'floor-node-memory'],
    ['fastify-session-redis', 'floor-node-redis'],
    ['express-session-redis', 'floor-node-redis'],
    ...HONO_PAIRS,
    ...(['listener', 'channel', 'otel'] as const).map((how) => [`observed-${how}`, 'ours-node-redis'] as [string, string]),
  ]
  const rl = ['| contender | against | S1 | S2 | S3 | S4 | S3H |', '|---|---|--:|--:|--:|--:|--:|']
  for (const [a, b] of pairs) {
    const qs = (['S1', 'S2', 'S3', 'S4', 'S3H'] as const).map((s) => ratio(cell(r, a, s)?.rps, cell(r, b, s)?.rps))
    if (qs.every((q) => q === undefined)) continue
    rl.push(`| ${a} | ${b} | ${qs.map((q) => (q === undefined ? '—' : `${fmt(q, 2)}×`)).join(' | ')} |`)
  }
  out.push('**Throughput ratios** (req/s of the first ÷ req/s of the second; `floor-node-redis` is the hand-written lower bound: node:http and bare GET/SET)', '', ...rl, '')
  out.push('**Targets (issues 9 and 15)**', '', '| target | measured | |', '|---|---|---|')
  for (const t of r.targets) out.push(`| ${t.text}${t.note ? ` <br><sub>${t.note}</sub>` : ''} | ${t.value} | ${mark(t.met)} |`)
  out.push('')
  const mem = Object.entries(r.memory)
  if (mem.length > 0) {
    out.push('**Memory per session** (memory stores; heap after a full GC, before and after creating sessions through S4)', '', '| contender | sessions | bytes/session |', '|---|--:|--:|')
    for (const [name, v] of mem) out.push('error' in v ? `| ${name} | — | ${v.error} |` : `| ${name} | ${fmt(v.sessions)} | ${fmt(v.bytesPerSession)} |`)
    out.push('')
  }
  const conc = Object.entries(r.concurrency)
  if (conc.length > 0) {
    out.push('**Concurrency** (50 concurrent requests on one session, each putting its own key: keys kept, per trial)', '', '| contender | kept of 50 |', '|---|---|')
    for (const [name, v] of conc) out.push(`| ${name} | ${'error' in v ? v.error : v.kept.join(', ')} |`)
    out.push('')
  }
  const hot = Object.entries(r.hot)
  if (hot.length > 0) {
    out.push('**Hot session** (50 concurrent requests on one session, each adding 1 to one counter — ours with `increment`, the peers read, add and write: increments kept, per trial)', '', '| contender | kept of 50 |', '|---|---|')
    for (const [name, v] of hot) out.push(`| ${name} | ${'error' in v ? v.error : v.kept.join(', ')} |`)
    out.push('')
  }
  const skipped = r.contenders.filter((c) => c.status !== 'ok')
  if (skipped.length > 0) {
    out.push('**Skipped**', '')
    for (const c of skipped) out.push(`- ${c.name}: ${c.note ?? c.status}`)
    out.push('')
  }
  return out.join('\n')
}

/** Known contender names (for `--only` validation). */
export const contenderNames = (): string[] => CONTENDERS.map((c) => c.name)
