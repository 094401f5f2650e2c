/** The result shapes the harness records (bench/results/*.json) and small numeric helpers. */
import type { Framework, Scenario, StoreKind } from './contenders.js'

export interface Sample {
  round: number
  rps: number
  p99: number
  /** Server CPU (user + system, all threads) per successful request, µs. */
  cpuUs: number
  /** Redis calls per request during the run (INFO commandstats diff, script-internal calls included). */
  redisPerReq?: Record<string, number>
  failed: number
}

export interface Cell {
  contender: string
  scenario: Scenario
  samples: Sample[]
  rps?: number
  p99?: number
  cpuUs?: number
  /** Redis calls per request, all commands (commandstats), mean over runs. */
  redisAll?: number
  error?: string
}

export interface StoreCalls {
  /** This library's Store method calls per request (`/__stats` diff). */
  storeCalls?: Record<string, number>
  /** Redis commands the server sent per request (MONITOR), and those its scripts ran. */
  redisSent?: Record<string, number>
  redisInScripts?: Record<string, number>
  /** Postgres queries per request, by first SQL word (the bench server's counted pool). */
  sqlQueries?: Record<string, number>
}

export interface ContenderInfo {
  name: string
  kind: 'ours' | 'peer' | 'bare' | 'floor'
  framework: Framework
  store: StoreKind
  status: 'ok' | 'not available' | 'failed'
  note?: string
}

export interface Target {
  id: string
  text: string
  value: string
  met: boolean | undefined
  note?: string
}

export interface Results {
  mode: 'full' | 'quick' | 'custom'
  started: string
  finished?: string
  seconds?: number
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; platform: string; redis?: string }
  config: { rounds: number; seconds: number; warmup: number; connections: number; sessionsPerRun: number }
  contenders: ContenderInfo[]
  cells: Cell[]
  storeCalls: Record<string, Partial<Record<Scenario, StoreCalls>>>
  memory: Record<string, { sessions: number; bytesPerSession: number; gc: boolean } | { error: string }>
  concurrency: Record<string, { kept: number[]; of: number } | { error: string }>
  /** Hot session: 50 concurrent increments of one counter, increments kept per trial (absent in results from before it existed). */
  hot: Record<string, { kept: number[]; of: number } | { error: string }>
  targets: Target[]
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

export const mean = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length)

export const sum = (r: Record<string, number> | undefined): number =>
  r === undefined ? NaN : Object.values(r).reduce((a, b) => a + b, 0)

/** `map` divided by `n`, as a plain object. */
export const perRequest = (map: Map<string, number>, n: number): Record<string, number> =>
  Object.fromEntries([...map].map(([k, v]) => [k, n > 0 ? v / n : NaN]))
