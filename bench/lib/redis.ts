/**
 * The bench's own Redis: a dedicated `redis-server` on a free loopback port (no
 * persistence), so no other traffic counts in its command statistics; stopped at the
 * end. Also: INFO commandstats snapshots and MONITOR-based counting of the commands a
 * client sends (commandstats also counts the commands a Lua script runs inside).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'

export interface BenchRedis {
  url: string
  client: Redis
  stop(): Promise<void>
}

const freePort = (preferred: number): Promise<number> =>
  new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => {
      const any = createServer()
      any.listen(0, '127.0.0.1', () => {
        const { port } = any.address() as { port: number }
        any.close(() => resolve(port))
      })
    })
    probe.listen(preferred, '127.0.0.1', () => probe.close(() => resolve(preferred)))
  })

/** Start a dedicated redis-server; undefined when none is installed. */
export async function startRedis(): Promise<BenchRedis | undefined> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined
  const port = await freePort(6390)
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    { stdio: 'ignore' },
  )
  const url = `redis://127.0.0.1:${port}/0`
  let client: Redis | undefined
  for (let i = 0; client === undefined; i++) {
    const attempt = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
    attempt.on('error', () => undefined)
    try {
      await attempt.connect()
      await attempt.ping()
      client = attempt
    } catch (err) {
      attempt.disconnect()
      if (i >= 50 || child.exitCode !== null) {
        child.kill('SIGKILL')
        throw new Error(`redis-server on ${port} did not start: ${String(err)}`)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return {
    url,
    client,
    async stop() {
      client.disconnect()
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await exited
      }
    },
  }
}

/** Calls per command since the last CONFIG RESETSTAT (`info` itself left out). */
export async function commandStats(client: Redis): Promise<Map<string, number>> {
  const info = await client.info('commandstats')
  const calls = new Map<string, number>()
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (m[1] !== 'info') calls.set(m[1] as string, Number(m[2]))
  }
  return calls
}

/** `after - before`, per command. */
export function diffStats(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const diff = new Map<string, number>()
  for (const [cmd, n] of after) {
    const d = n - (before.get(cmd) ?? 0)
    if (d > 0) diff.set(cmd, d)
  }
  return diff
}

export interface Monitored {
  /** Commands clients sent (one network round trip each, unless pipelined). */
  sent: Map<string, number>
  /** Commands Lua scripts ran on the server. */
  inScripts: Map<string, number>
}

/** Run `fn` while MONITOR watches; count what other clients sent and what scripts ran. */
export async function monitor(url: string, fn: () => Promise<void>): Promise<Monitored> {
  const watcher = new Redis(url, { maxRetriesPerRequest: 1 })
  const result: Monitored = { sent: new Map(), inScripts: new Map() }
  try {
    const mon = await watcher.monitor()
    let on = false
    mon.on('monitor', (_time: string, args: string[], source: string) => {
      if (!on) return
      const cmd = String(args[0] ?? '').toLowerCase()
      const into = source === 'lua' ? result.inScripts : result.sent
      into.set(cmd, (into.get(cmd) ?? 0) + 1)
    })
    // A marker command tells us MONITOR is live before counting starts.
    const marker = new Redis(url, { maxRetriesPerRequest: 1 })
    const live = new Promise<void>((resolve) => {
      mon.on('monitor', (_t: string, args: string[]) => {
        if (String(args[0]).toLowerCase() === 'echo' && args[1] === 'bench-start') resolve()
      })
    })
    await marker.echo('bench-start')
    await live
    on = true
    await fn()
    const done = new Promise<void>((resolve) => {
      mon.on('monitor', (_t: string, args: string[]) => {
        if (String(args[0]).toLowerCase() === 'echo' && args[1] === 'bench-end') resolve()
      })
    })
    await marker.echo('bench-end')
    await done
    on = false
    result.sent.delete('echo')
    marker.disconnect()
    mon.disconnect()
  } finally {
    watcher.disconnect()
  }
  return result
}
