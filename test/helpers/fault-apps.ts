/**
 * The counter app of the fault tests, and app processes running it
 * (test/fixtures/fault-app.ts) on a store of test/helpers/fault-stores.ts: `GET /`
 * reads the session's counter `n`, `GET /inc` adds one through `manager.increment`;
 * both answer the number. A failed request answers 500 with the error's code and its
 * cause's message, so a test can say what failed. The processes are watched: an exit
 * (a crash, an unhandled rejection) is recorded with its stderr.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { Test } from 'tap'
import { SessionManager } from '../../lib/index.js'
import { faultStore, type FaultStoreConfig } from './fault-stores.js'
import { listen } from './http.js'
import { unlinkMatching } from './redis-nodes.js'

// The data nodes of scripts/up-redis-sentinel.sh and scripts/up-redis-cluster.sh.
const SENTINEL_PORTS = [6380, 6381]
const CLUSTER_PORTS = [7000, 7001, 7002, 7003, 7004, 7005]

/** What a 500 of the fault app says: `CODE: message (cause: message)`, one line. */
export function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } }
  const cause = e.cause === undefined ? '' : ` (cause: ${e.cause.code ?? ''}${e.cause.code ? ' ' : ''}${e.cause.message ?? String(e.cause)})`
  return `${e.code ?? '?'}: ${e.message ?? String(err)}${cause}`.replace(/\s+/g, ' ').slice(0, 300)
}

/** The manager options of a fault app (besides its store). */
export const faultManagerOptions = {
  lifetime: '1h',
  logger: { warn() {}, error() {} },
  errorHandler: (err: unknown, _req: IncomingMessage, res: ServerResponse) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
    res.end(describeError(err))
  },
} as const

/** The counter routes on `manager`. */
export function faultRoutes(manager: SessionManager): RequestListener {
  return manager.loadAndSave((req, res) => {
    const n = req.url === '/inc' ? manager.increment(req, 'n') : manager.getNumber(req, 'n')
    res.end(String(n))
  })
}

/** A fault app's whole configuration: its store, and the manager's `storeTimeout` (ms). */
export interface FaultAppConfig extends FaultStoreConfig {
  prefix: string
  storeTimeout: number
}

/** A running app process. */
export interface FaultApp {
  url: string
  child: ChildProcess
  /** Its stderr so far. */
  stderr(): string
  /** How it exited, while the test still needed it (undefined while it runs). */
  exited(): string | undefined
}

/** Start one fault app process on `config`; resolves once it listens. */
export async function startFaultApp(config: FaultAppConfig): Promise<FaultApp> {
  const root = new URL('../..', import.meta.url).pathname
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/fault-app.ts'], {
    cwd: root,
    env: { ...process.env, FAULT_APP: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  let exit: string | undefined
  child.stderr?.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-20_000)
  })
  child.on('exit', (code, signal) => {
    exit = `exited with ${signal ?? code}`
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (c: Buffer) => {
      out += c
      const m = /ready (http:\/\/\S+)/.exec(out)
      if (m?.[1]) resolve(m[1])
    })
    child.on('exit', () => reject(new Error(`fault app ${exit}: ${err}`)))
  })
  return { url, child, stderr: () => err, exited: () => exit }
}

/** `count` app processes on `config`, killed when `t` ends. */
export async function startFaultApps(t: Test, config: FaultAppConfig, count = 2): Promise<FaultApp[]> {
  const apps = await Promise.all(Array.from({ length: count }, () => startFaultApp(config)))
  t.teardown(async () => {
    for (const app of apps) app.child.kill('SIGKILL')
    if (config.kind === 'redis-sentinel') await unlinkMatching(SENTINEL_PORTS, `*${config.prefix}*`)
    if (config.kind === 'redis-cluster') await unlinkMatching(CLUSTER_PORTS, `*${config.prefix}*`)
  })
  return apps
}

/** Check that every app of `apps` still runs and wrote nothing to stderr (no crash, no unhandled rejection). */
export function checkAlive(t: Test, apps: FaultApp[]): void {
  for (const [i, app] of apps.entries()) {
    t.equal(app.exited(), undefined, `app process ${i + 1} still runs (no crash)`)
    t.equal(app.stderr(), '', `app process ${i + 1} wrote nothing to stderr (no unhandled rejection or warning)`)
  }
}

/**
 * An app of the test's own process on a fresh client of `config`'s store: for reading
 * every session back after the fault. Closed when `t` ends. Resolves to its URL.
 */
export async function readerApp(t: Test, config: FaultAppConfig): Promise<string> {
  const { store, close } = await faultStore(config)
  const manager = new SessionManager({ ...faultManagerOptions, store, prefix: config.prefix, storeTimeout: config.storeTimeout })
  const app = await listen(faultRoutes(manager))
  t.teardown(async () => {
    await app.close()
    await close()
  })
  return app.url
}
