/**
 * The load of the fault tests: N browsers (default 200), each with a session of its
 * own, against one or more app URLs (each request to one at random, as a load
 * balancer would), ~70% reads (`GET /`) and ~30% writes (`GET /inc`), for a duration
 * that spans a fault injected by a callback. Real HTTP over keep-alive connections;
 * no client-side timeout (the server's storeTimeout bounds a request), so every
 * request is acknowledged or failed.
 *
 * Recorded: each browser's last acknowledged counter (a 200 to `/inc` carries the new
 * value), every failed request (status and body, grouped), the latency of every
 * request, and a timeline, from which the recovery time is computed. `readBack` then
 * reads every browser's counter once more and counts lost (stored < acknowledged) and
 * doubled (stored > acknowledged plus the writes that failed since: a write applied
 * twice) sessions. The counter app is test/helpers/fault-apps.ts.
 */
import { Agent, request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'

/** How a load runs. */
export interface FaultLoadOptions {
  /** App base URLs (`http://127.0.0.1:port`). */
  urls: string[]
  /** Injects the fault; called `faultAt` ms into the load, not awaited by the load. */
  fault: () => Promise<unknown> | unknown
  /** Concurrent browsers. Default 200. */
  browsers?: number
  /** Length of the load in ms. Default 12 000. */
  duration?: number
  /** When the fault is injected, in ms from the start. Default 3000. */
  faultAt?: number
  /** Share of requests that write. Default 0.3. */
  writeShare?: number
  /** Each browser pauses up to this many ms (uniformly at random) between requests. Default 20. */
  think?: number
  /** After `duration`, how long a request still in flight may take before it counts as hung. Default 60 000. */
  drain?: number
}

/** One browser: its session cookie and what it was told. */
export interface Browser {
  cookie: string | undefined
  /** The last counter value a write acknowledged (0 before any). */
  acked: number
  /** Writes that failed since the last acknowledgement: each may or may not have been applied. */
  unsure: number
}

/** What a load saw. Times are ms from the start of the load. */
export interface FaultLoadReport {
  browsers: Browser[]
  requests: number
  /** Acknowledged writes (200s to `/inc`). */
  acked: number
  /** Failed requests by `status body` (status 0: no HTTP answer). */
  failures: Map<string, number>
  failed: number
  /** Failed requests that were writes. */
  failedWrites: number
  /** First and last failure, ms from the start. */
  failedSpan: [number, number] | undefined
  /** Requests still in flight after the drain: counted in `failures` as `hung`. */
  hung: number
  slowest: number
  p99: number
  p50: number
  faultAt: number
  /** How long the fault callback took, and its error if it threw. */
  faultTook: number
  faultError: unknown
  /** From the fault to the first acknowledged write that was sent after it; -1 if none. */
  firstWrite: number
  /** Longest interval without an acknowledged write, among those ending after the fault. */
  recovery: number
  /** The same before the fault: the load's own noise. */
  quietBefore: number
  /** Answers that showed a counter below what the browser had been acknowledged (a lost write seen during the load). */
  seenLost: number
  /** Acknowledgements above the last one plus 1 plus the writes that failed since (a write applied twice). */
  seenDoubled: number
  /** Each acknowledged write's start and end. */
  okWrites: Array<[start: number, end: number]>
  /** Acknowledged writes and failed requests per second of the load. */
  perSecond: Array<[ok: number, failed: number]>
}

interface Reply {
  status: number
  body: string
  cookie: string | undefined
}

/** One GET on a keep-alive agent; never times out; a transport error is status 0. */
function get(agent: Agent, base: URL, path: string, cookie: string | undefined): Promise<Reply> {
  return new Promise((resolve) => {
    const req = request(
      { agent, host: base.hostname, port: base.port, path, headers: cookie === undefined ? {} : { cookie } },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (body += c))
        res.on('end', () => {
          const line = res.headers['set-cookie']?.find((c) => c.startsWith('session='))
          const pair = line?.split(';')[0]
          const expired = line !== undefined && /max-age=0|expires=thu, 01 jan 1970/i.test(line)
          resolve({ status: res.statusCode ?? 0, body, cookie: expired ? '' : pair })
        })
        res.on('error', (err) => resolve({ status: 0, body: `response ${(err as { code?: string }).code ?? err.message}`, cookie: undefined }))
      },
    )
    req.on('error', (err) => resolve({ status: 0, body: `request ${(err as { code?: string }).code ?? err.message}`, cookie: undefined }))
    req.end()
  })
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

/** Run the load of `options` across its fault. */
export async function faultLoad(options: FaultLoadOptions): Promise<FaultLoadReport> {
  const { urls, fault, browsers: count = 200, duration = 12_000, faultAt = 3000, writeShare = 0.3, think = 20, drain = 60_000 } = options
  const bases = urls.map((u) => new URL(u))
  const agents = urls.map(() => new Agent({ keepAlive: true, maxSockets: Infinity }))
  const browsers: Browser[] = Array.from({ length: count }, () => ({ cookie: undefined, acked: 0, unsure: 0 }))
  const failures = new Map<string, number>()
  const latencies: number[] = []
  const okWrites: Array<[start: number, end: number]> = []
  const failedAt: number[] = []
  const inFlight = new Set<number>()
  let failedWrites = 0
  let seenLost = 0
  let seenDoubled = 0
  let requests = 0
  let stop = false
  const t0 = Date.now()
  const now = () => Date.now() - t0

  const browse = async (b: Browser, id: number) => {
    for (let first = true; !stop; first = false) {
      const write = first || Math.random() < writeShare
      const i = Math.floor(Math.random() * urls.length)
      const start = now()
      inFlight.add(id)
      const reply = await get(agents[i]!, bases[i]!, write ? '/inc' : '/', b.cookie)
      inFlight.delete(id)
      const end = now()
      if (stop && end > duration + drain) return // counted as hung already
      requests++
      latencies.push(end - start)
      if (reply.cookie !== undefined) b.cookie = reply.cookie === '' ? undefined : reply.cookie
      if (reply.status === 200) {
        const n = Number(reply.body)
        if (n < b.acked) seenLost++
        if (write) {
          if (n > b.acked + 1 + b.unsure) seenDoubled++
          b.acked = n
          b.unsure = 0
          okWrites.push([start, end])
        }
      } else {
        const key = `${reply.status} ${reply.body}`
        failures.set(key, (failures.get(key) ?? 0) + 1)
        failedAt.push(end)
        if (write) {
          failedWrites++
          if (b.cookie !== undefined) b.unsure++
        }
      }
      if (think > 0) await sleep(Math.random() * think)
    }
  }

  const load = browsers.map((b, id) => browse(b, id))
  await sleep(faultAt)
  const faultStart = now()
  let faultTook = -1
  let faultError: unknown
  const injected = (async () => fault())().then(
    () => (faultTook = now() - faultStart),
    (err: unknown) => {
      faultTook = now() - faultStart
      faultError = err
    },
  )
  await sleep(Math.max(0, duration - now()))
  stop = true
  let drained = false
  await Promise.race([Promise.all(load).then(() => (drained = true)), sleep(drain)])
  const hung = drained ? 0 : inFlight.size
  if (hung > 0) failures.set(`hung over ${drain} ms`, hung)
  await injected
  for (const agent of agents) agent.destroy()

  latencies.sort((a, b) => a - b)
  const ends = okWrites.map(([, end]) => end).sort((a, b) => a - b)
  let recovery = 0
  let quietBefore = 0
  for (let i = 1; i < ends.length; i++) {
    const gap = ends[i]! - ends[i - 1]!
    if (ends[i]! > faultStart) recovery = Math.max(recovery, gap)
    else quietBefore = Math.max(quietBefore, gap)
  }
  const last = ends.at(-1) ?? 0
  if (last <= faultStart) recovery = duration - faultStart // nothing acknowledged after the fault
  const after = okWrites.filter(([start]) => start >= faultStart).map(([, end]) => end)
  const firstWrite = after.length === 0 ? -1 : Math.min(...after) - faultStart
  const seconds = Math.ceil(duration / 1000)
  const perSecond = Array.from({ length: seconds }, (): [number, number] => [0, 0])
  for (const end of ends) perSecond[Math.min(seconds - 1, Math.floor(end / 1000))]![0]++
  for (const end of failedAt) perSecond[Math.min(seconds - 1, Math.floor(end / 1000))]![1]++
  failedAt.sort((a, b) => a - b)
  const failed = [...failures.values()].reduce((a, b) => a + b, 0)
  return {
    browsers,
    requests,
    acked: okWrites.length,
    failures,
    failed,
    failedWrites,
    failedSpan: failedAt.length === 0 ? undefined : [failedAt[0]!, failedAt.at(-1)!],
    hung,
    slowest: latencies.at(-1) ?? 0,
    p99: percentile(latencies, 0.99),
    p50: percentile(latencies, 0.5),
    faultAt: faultStart,
    faultTook,
    faultError,
    firstWrite,
    recovery,
    quietBefore,
    seenLost,
    seenDoubled,
    okWrites,
    perSecond,
  }
}

/** What the read-back found. */
export interface ReadBack {
  /** Browsers whose stored counter is below their last acknowledgement. */
  lost: number
  /** Browsers whose stored counter is above it plus the writes that failed since. */
  doubled: number
  /** Browsers whose stored counter includes writes that failed (applied though not acknowledged). */
  appliedUnacked: number
  /** Browsers whose counter could not be read within the limit. */
  unread: number
  /** Examples, for the test's messages. */
  examples: string[]
}

/**
 * Read every browser's counter through `url` (a fresh app), 20 at a time, each read
 * retried for up to `limit` ms while it fails, and compare with what the browser was told.
 */
export async function readBack(report: FaultLoadReport, url: string, limit = 15_000): Promise<ReadBack> {
  const agent = new Agent({ keepAlive: true })
  const base = new URL(url)
  const result: ReadBack = { lost: 0, doubled: 0, appliedUnacked: 0, unread: 0, examples: [] }
  const queue = report.browsers.map((b, i) => [b, i] as const)
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const [b, i] = next
      if (b.cookie === undefined) continue
      let stored: number | undefined
      for (const begin = Date.now(); stored === undefined && Date.now() - begin < limit; ) {
        const reply = await get(agent, base, '/', b.cookie)
        if (reply.status === 200) stored = Number(reply.body)
        else await sleep(200)
      }
      if (stored === undefined) result.unread++
      else if (stored < b.acked) result.lost++
      else if (stored > b.acked + b.unsure) result.doubled++
      else if (stored > b.acked) result.appliedUnacked++
      if (stored === undefined || stored < b.acked || stored > b.acked + b.unsure) {
        if (result.examples.length < 5) result.examples.push(`browser ${i}: acknowledged ${b.acked}, ${b.unsure} failed since, stored ${stored}`)
      }
    }
  }
  await Promise.all(Array.from({ length: 20 }, worker))
  agent.destroy()
  return result
}

/** The one-line summary a fault test prints (`# name: …`). */
export function summary(name: string, load: FaultLoadReport, back: ReadBack): string {
  const span = load.failedSpan === undefined ? '' : ` (from +${load.failedSpan[0] - load.faultAt} to +${load.failedSpan[1] - load.faultAt} ms after the fault)`
  return (
    `# ${name}: ${load.acked} acknowledged writes of ${load.requests} requests by ${load.browsers.length} browsers, ` +
    `${back.lost} lost, ${back.doubled} doubled, ${load.failed} failed${span}, ` +
    `recovery ${load.recovery} ms (first write sent after the fault acknowledged after ${load.firstWrite} ms; ` +
    `longest gap before the fault ${load.quietBefore} ms), slowest ${load.slowest} ms, p99 ${load.p99} ms, p50 ${load.p50} ms`
  )
}

/** Comment lines with the failures by kind and the per-second timeline. */
export function details(t: Test, load: FaultLoadReport, back: ReadBack): void {
  for (const [what, n] of [...load.failures].sort((a, b) => b[1] - a[1]).slice(0, 12)) t.comment(`failed ×${n}: ${what}`)
  t.comment(`per second (acknowledged writes/failed requests): ${load.perSecond.map(([ok, f]) => `${ok}/${f}`).join(' ')}; fault at ${load.faultAt} ms, took ${load.faultTook} ms`)
  if (back.appliedUnacked > 0) t.comment(`${back.appliedUnacked} sessions hold a write that failed (applied, not acknowledged)`)
  for (const e of back.examples) t.comment(e)
}

/**
 * The assertions of a fault a store must ride out: the load ran (at least `minAcked`
 * acknowledged writes, some after the fault), the fault was injected, and there were
 * no failed requests, no lost and no doubled writes.
 */
export function assertRodeOut(t: Test, name: string, load: FaultLoadReport, back: ReadBack, minAcked = 300): void {
  console.log(summary(name, load, back))
  details(t, load, back)
  t.equal(load.faultError, undefined, 'the fault was injected')
  t.ok(load.acked >= minAcked, `the load ran: ${load.acked} acknowledged writes (at least ${minAcked})`)
  t.ok(load.firstWrite >= 0, `writes are acknowledged after the fault (first after ${load.firstWrite} ms)`)
  t.same(Object.fromEntries(load.failures), {}, `no request failed (${load.failed} did)`)
  t.equal(back.unread, 0, 'every session read back')
  t.equal(back.lost + load.seenLost, 0, `no acknowledged write lost (${back.lost} sessions at read-back, ${load.seenLost} answers during the load)`)
  t.equal(back.doubled + load.seenDoubled, 0, `no write applied twice (${back.doubled} sessions at read-back, ${load.seenDoubled} answers during the load)`)
}

/**
 * A fault that SIGSTOPs `pids` for `hold` ms, then SIGCONTs them (a server that hangs
 * without closing its connections). `resume` is for a teardown; `resumedAt(load)` is when
 * they were resumed, on the load's clock.
 */
export function stopped(pids: number[], hold: number) {
  let stoppedFor = 0
  const resume = () => {
    for (const pid of pids) process.kill(pid, 'SIGCONT')
  }
  const fault = async () => {
    const at = Date.now()
    for (const pid of pids) process.kill(pid, 'SIGSTOP')
    await sleep(hold)
    resume()
    stoppedFor = Date.now() - at
  }
  return { fault, resume, resumedAt: (load: FaultLoadReport) => load.faultAt + stoppedFor }
}

/**
 * The assertions of a fault that outlasts the retry window: requests failed, each as a
 * 500 from the app (no reset connection, no hang) within `storeTimeout` + 1.5 s, the
 * same apps acknowledge writes again after `resumedAt`, and nothing acknowledged was
 * lost or applied twice.
 */
export function assertCleanOutage(t: Test, name: string, load: FaultLoadReport, back: ReadBack, storeTimeout: number, resumedAt: number): void {
  console.log(summary(name, load, back))
  details(t, load, back)
  t.equal(load.faultError, undefined, 'the fault was injected and lifted')
  t.ok(load.failed > 0, `requests failed during the fault (${load.failed})`)
  const statuses = new Set([...load.failures.keys()].map((k) => k.split(' ')[0]))
  t.same([...statuses], ['500'], 'every failure is a 500 from the app (no reset connection, no hang)')
  t.ok(load.slowest <= storeTimeout + 1500, `no request took longer than storeTimeout + 1.5 s (slowest ${load.slowest} ms)`)
  const after = load.okWrites.filter(([start]) => start >= resumedAt).map(([, end]) => end - resumedAt)
  t.ok(after.length > 100, `the same apps acknowledge writes again after the fault (${after.length}, the first ${Math.min(...after)} ms after it ended)`)
  t.equal(back.unread, 0, 'every session read back')
  t.equal(back.lost + load.seenLost, 0, 'no acknowledged write lost')
  t.equal(back.doubled + load.seenDoubled, 0, 'no write applied twice')
}
