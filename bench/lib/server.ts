/**
 * Contender server processes: start one (`node --expose-gc --import tsx <file>`, or
 * `bun <file>` for a Bun contender; any
 * free port, "ready PORT" on stdout), read its CPU time from /proc, stop it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { bunBinary, type Contender } from './contenders.js'

export interface Running {
  contender: Contender
  port: number
  pid: number
  child: ChildProcess
  /** The last lines of its stderr, for error reports. */
  stderr: () => string
}

export interface StartOptions {
  root: string
  redisUrl: string
  /** Write a V8 CPU profile into this directory when the server exits. */
  cpuProfDir?: string
  timeoutMs?: number
}

const children = new Set<ChildProcess>()

/** Start `c`'s server; rejects with its stderr when it exits or stays silent. */
export function startServer(c: Contender, options: StartOptions): Promise<Running> {
  const bun = c.runtime === 'bun'
  const args = bun ? [] : ['--expose-gc']
  // One directory per contender: the main thread and tsx's loader thread each write a profile.
  if (options.cpuProfDir !== undefined && !bun) args.push('--cpu-prof', '--cpu-prof-dir', join(options.cpuProfDir, c.name))
  // Bun runs TypeScript itself; Node through tsx.
  if (!bun) args.push('--import', 'tsx')
  args.push(join(options.root, c.file))
  const child = spawn(bun ? bunBinary() : process.execPath, args, {
    cwd: options.root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: '0',
      BENCH_NAME: c.name,
      BENCH_STORE: c.store,
      BENCH_REDIS_URL: options.redisUrl,
      ...c.env,
    },
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000)
  })
  const stderr = () => err.trim().split('\n').slice(-6).join('\n')
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`no "ready" within ${options.timeoutMs ?? 30_000} ms\n${stderr()}`))
    }, options.timeoutMs ?? 30_000)
    const onExit = (code: number | null) => {
      clearTimeout(timer)
      reject(new Error(`exited (${code}) before ready\n${stderr()}`))
    }
    child.once('exit', onExit)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /ready (\d+)/.exec(out)
      if (m === null) return
      clearTimeout(timer)
      child.off('exit', onExit)
      child.stdout?.removeAllListeners('data')
      child.stdout?.resume()
      resolve({ contender: c, port: Number(m[1]), pid: child.pid as number, child, stderr })
    })
  })
}

/** Stop a server (SIGTERM: it exits cleanly and writes any CPU profile; SIGKILL after 5 s). */
export async function stopServer(s: Running): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => s.child.once('exit', () => resolve()))
  s.child.kill('SIGTERM')
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** Kill every server still running (on exit or Ctrl-C of the harness). */
export function killAll(): void {
  for (const child of children) child.kill('SIGKILL')
}

let ticks: number | undefined
/** Clock ticks per second of /proc times (`getconf CLK_TCK`, normally 100). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
    } catch {
      ticks = 100
    }
  }
  return ticks
}

/** User + system CPU time of a process (all its threads) in µs, from /proc/PID/stat. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) * 1e6) / clockTicks()
}
