/**
 * The failover soak (issue 20), shared by bench/soak/failover.ts (30 minutes by hand)
 * and test/soak-failover.test.ts (60 s in `npm test`): bench/soak/server.ts on a
 * RedisStore over Redis Sentinel (`sentinelClientOptions`, as docs/stores/redis.md
 * configures the client), mixed load over keep-alive connections (bench/soak/mixed-load.ts),
 * the primary SIGKILLed every `failoverEvery` seconds and restarted as a replica
 * (bench/soak/sentinel.ts). Per bucket (a minute in the bench): requests, failed, p50,
 * p99 and max latency, heap after a full GC and RSS; per failover: the requests that
 * failed around it, when writes succeeded again, the slowest request; at the end every
 * session is read back against the ledger of acknowledged writes.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Done, get, type Ledger, MixedLoad } from './mixed-load.js'
import { failover, type Failover, type SentinelGroup, upGroup } from './sentinel.js'

export interface SoakOptions {
  group: SentinelGroup
  /** Measured seconds, after the warm-up. */
  seconds: number
  warmupSeconds: number
  /** Length of a table row, s (60 in the bench). */
  bucketSeconds: number
  /** A failover every this many seconds of the measured time (first one after as long). */
  failoverEvery: number
  /** At most this many failovers (default: as many as fit). */
  maxFailovers?: number
  connections: number
  browsersPerConnection: number
  /** RedisStore options besides the client (e.g. `{ waitReplicas: 1 }`). */
  storeOptions?: Record<string, unknown>
  /** The library as built (`dist`, `npm run build` first) or its sources through tsx. */
  from: 'dist' | 'src'
  log?: (line: string) => void
}

export interface Row {
  bucket: number
  requests: number
  failed: number
  p50: number
  p99: number
  max: number
  heapMB?: number
  rssMB?: number
  marks: string[]
  /** Why requests failed: client side (status / error) and as the server logged it. */
  why?: Record<string, number>
  serverErrors?: Record<string, number>
}

export interface FailoverFigures extends Failover {
  /** Requests sent from 5 s before the SIGKILL until 5 s before the next one that failed. */
  failed: number
  /** ms from the SIGKILL until a write sent after it was acknowledged. */
  firstWriteOkAfterMs?: number
  /** The slowest request sent within 30 s after the SIGKILL, ms. */
  slowestMs: number
}

export interface SoakResult {
  started: string
  finished: string
  options: Omit<SoakOptions, 'log'>
  rows: Row[]
  failovers: FailoverFigures[]
  ledger: Ledger & { readBack: number }
  requests: number
  failed: number
  byRoute: Record<string, { requests: number; failed: number }>
  /** Heap after a full GC and RSS, MB: after the warm-up, and at the end (after the read-back). */
  heapMB: { warm: number; end: number }
  rssMB: { warm: number; end: number }
}

const mb = (n: number) => Math.round((n / 1048576) * 10) / 10
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN
const round = (n: number) => Math.round(n * 10) / 10

async function startServer(o: SoakOptions) {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/soak/server.ts'], {
    cwd: new URL('../../', import.meta.url).pathname,
    env: {
      ...process.env,
      SOAK_STORE: 'sentinel',
      SOAK_FROM: o.from,
      SOAK_LIFETIME_MS: String(4 * 3600_000),
      SOAK_SENTINELS: o.group.sentinels.map((p) => `127.0.0.1:${p}`).join(','),
      SOAK_SENTINEL_NAME: o.group.name,
      SOAK_STORE_OPTIONS: JSON.stringify(o.storeOptions ?? {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the soak server said nothing within 60 s\n${stderr}`)), 60_000)
    child.once('exit', (code) => reject(new Error(`the soak server exited (${code})\n${stderr}`)))
    child.stdout.on('data', (d: Buffer) => {
      const m = /ready (\S+)/.exec(d.toString())
      if (m?.[1] !== undefined) clearTimeout(timer), resolve(m[1])
    })
  })
  const json = async <T>(path: string) => JSON.parse((await get(base, path, '', false, 60_000)).body) as T
  return { child, base, json }
}

/** Run one soak; resolves to its figures (it throws only when the soak itself could not run). */
export async function failoverSoak(o: SoakOptions): Promise<SoakResult> {
  const log = o.log ?? (() => {})
  const started = new Date().toISOString()
  await upGroup(o.group)
  const server = await startServer(o)
  const heap = () => server.json<{ heapUsed: number; rss: number }>('/__heap')
  const serverErrors = () => server.json<Record<string, number>>('/__errors')

  let t0 = Infinity
  const bucketMs = o.bucketSeconds * 1000
  const buckets: Array<{ ms: number[]; failed: number; why: Map<string, number>; row?: Partial<Row>; marks: string[] }> = []
  const bucket = (i: number) => (buckets[i] ??= { ms: [], failed: 0, why: new Map(), marks: [] })
  const failovers: FailoverFigures[] = []
  const failures: Array<{ start: number }> = []
  const byRoute: SoakResult['byRoute'] = {}
  const onDone = (d: Done) => {
    const r = (byRoute[d.route] ??= { requests: 0, failed: 0 })
    r.requests++
    if (!d.ok) r.failed++, failures.push({ start: d.start })
    if (d.start < t0) return
    const b = bucket(Math.floor((d.start - t0) / bucketMs))
    b.ms.push(d.ms)
    if (!d.ok) {
      b.failed++
      const why = (d.why ?? '?').replace(/\d+ ms/, 'N ms')
      b.why.set(why, (b.why.get(why) ?? 0) + 1)
    }
    const f = failovers.at(-1)
    if (f !== undefined && d.start >= f.at) {
      if (d.ok && f.firstWriteOkAfterMs === undefined && (d.route === 's3' || d.route === 's4')) f.firstWriteOkAfterMs = Math.round(d.start + d.ms - f.at)
      if (d.start < f.at + 30_000) f.slowestMs = Math.max(f.slowestMs, Math.round(d.ms))
    }
  }
  // performance.now() and Date.now() differ by a constant: keep everything in performance time.
  const offset = Date.now() - performance.now()
  const load = new MixedLoad({ base: server.base, connections: o.connections, browsersPerConnection: o.browsersPerConnection, runId: randomBytes(3).toString('hex'), onDone })
  const running = load.run()
  try {
    log(`# warm-up ${o.warmupSeconds} s on ${server.base}`)
    await sleep(o.warmupSeconds * 1000)
    await serverErrors()
    const warm = await heap()
    t0 = performance.now()
    log(`# warm: heap ${mb(warm.heapUsed)} MB, RSS ${mb(warm.rss)} MB`)

    const maxFailovers = o.maxFailovers ?? Math.floor((o.seconds - 1) / o.failoverEvery)
    const faults = (async () => {
      for (let k = 1; k <= maxFailovers; k++) {
        await sleep(t0 + k * o.failoverEvery * 1000 - performance.now())
        const f = await failover(o.group, (at) => {
          failovers.push({ killed: 0, promoted: 0, at: at - offset, promotedAfterMs: 0, healthyAfterMs: 0, failed: 0, slowestMs: 0 })
        })
        const figures = failovers.at(-1) as FailoverFigures
        Object.assign(figures, { ...f, at: figures.at })
        bucket(Math.floor((figures.at - t0) / bucketMs)).marks.push(
          `failover ${f.killed}→${f.promoted} (promoted ${round(f.promotedAfterMs / 1000)} s, healthy ${round(f.healthyAfterMs / 1000)} s)`,
        )
        log(`# failover ${k}: ${f.killed} killed, ${f.promoted} promoted after ${f.promotedAfterMs} ms, healthy after ${f.healthyAfterMs} ms`)
      }
    })()
    for (let i = 0; i * bucketMs < o.seconds * 1000; i++) {
      await sleep(t0 + (i + 1) * bucketMs - performance.now())
      const [h, errs] = await Promise.all([heap(), serverErrors()])
      const b = bucket(i)
      b.row = { heapMB: mb(h.heapUsed), rssMB: mb(h.rss), ...(Object.keys(errs).length > 0 ? { serverErrors: errs } : {}) }
      log(`# ${i + 1}: ${b.ms.length} requests, ${b.failed} failed, heap ${mb(h.heapUsed)} MB, RSS ${mb(h.rss)} MB`)
    }
    load.stop()
    await running
    await faults
    await upGroup(o.group)
    const readBack = await load.readBack()
    const end = await heap()
    for (const f of failovers) {
      const next = (failovers.find((g) => g.at > f.at)?.at ?? Infinity) - 5000
      f.failed = failures.filter((x) => x.start >= f.at - 5000 && x.start < next).length
    }
    const rows: Row[] = buckets.slice(0, Math.ceil(o.seconds / o.bucketSeconds)).map((b, i) => {
      const sorted = b.ms.sort((x, y) => x - y)
      return {
        bucket: i + 1, requests: sorted.length, failed: b.failed,
        p50: round(pct(sorted, 0.5)), p99: round(pct(sorted, 0.99)), max: round(sorted.at(-1) ?? NaN),
        ...b.row, marks: b.marks, ...(b.why.size > 0 ? { why: Object.fromEntries(b.why) } : {}),
      }
    })
    const { log: _log, ...options } = o
    return {
      started, finished: new Date().toISOString(), options, rows,
      failovers: failovers.map((f) => ({ ...f, at: Math.round(f.at + offset) })),
      ledger: { ...load.ledger, readBack },
      requests: Object.values(byRoute).reduce((s, r) => s + r.requests, 0),
      failed: Object.values(byRoute).reduce((s, r) => s + r.failed, 0),
      byRoute,
      heapMB: { warm: mb(warm.heapUsed), end: mb(end.heapUsed) },
      rssMB: { warm: mb(warm.rss), end: mb(end.rss) },
    }
  } finally {
    load.stop()
    await running.catch(() => {})
    load.close()
    server.child.kill('SIGKILL')
  }
}

/** The per-bucket table and a summary, as markdown. */
export function table(r: SoakResult): string {
  const unit = r.options.bucketSeconds === 60 ? 'minute' : `${r.options.bucketSeconds} s`
  const lines = [
    `| ${unit} | requests | failed | p50 ms | p99 ms | max ms | heap MB | RSS MB | failover |`,
    '|--:|--:|--:|--:|--:|--:|--:|--:|---|',
    ...r.rows.map((x) => `| ${x.bucket} | ${x.requests.toLocaleString('en')} | ${x.failed} | ${x.p50} | ${x.p99} | ${x.max} | ${x.heapMB ?? ''} | ${x.rssMB ?? ''} | ${x.marks.join('; ')} |`),
  ]
  const l = r.ledger
  lines.push(
    '',
    `${r.failovers.length} failovers; ${r.requests.toLocaleString('en')} requests, ${r.failed} failed ` +
      `(${r.failovers.map((f) => f.failed).join(' / ') || '-'} around each failover); ` +
      `writes back after ${r.failovers.map((f) => f.firstWriteOkAfterMs ?? '?').join(' / ') || '-'} ms; ` +
      `${l.acknowledged.toLocaleString('en')} acknowledged writes, ${l.lost} lost, ${l.doubled} doubled, ${l.orphaned} sessions orphaned by a failed request; ` +
      `${l.readBack} sessions read back; heap after GC ${r.heapMB.warm} → ${r.heapMB.end} MB, RSS ${r.rssMB.warm} → ${r.rssMB.end} MB.`,
  )
  return lines.join('\n')
}
