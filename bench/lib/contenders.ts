/**
 * Every contender of the bench: which server file runs it, with which store, what it
 * needs to exist (this library's modules land one by one; a missing one makes the
 * contender "not available", never a crash), and which scenarios it serves.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'

export type Scenario = 'S0' | 'S1' | 'S2' | 'S3' | 'S4' | 'S3H'
export type Framework = 'node' | 'express' | 'fastify' | 'koa' | 'hono'
/** What runs the server file: Node (through tsx) or the Bun binary (TypeScript natively). */
export type Runtime = 'node' | 'bun'
export type StoreKind = 'none' | 'memory' | 'redis' | 'cookie' | 'postgres'

/** In the order they are measured. */
export const SCENARIO_ORDER: Scenario[] = ['S0', 'S1', 'S2', 'S3', 'S4', 'S3H']

/** `oneSession`: every connection sends the same cookie (one hot session) instead of one of many. */
export const SCENARIOS: Record<Scenario, { path: string; title: string; cookie: boolean; oneSession?: boolean }> = {
  S0: { path: '/s0', title: 'bare: no session middleware', cookie: false },
  S1: { path: '/s1', title: 'anonymous: no cookie, session untouched', cookie: false },
  S2: { path: '/s2', title: 'read: valid cookie, read one value', cookie: true },
  S3: { path: '/s3', title: 'write: valid cookie, increment a counter', cookie: true },
  S4: { path: '/s4', title: 'new: no cookie, put a value', cookie: false },
  S3H: { path: '/c/inc', title: 'hot write: every connection on one session, add 1 to a counter (ours: increment)', cookie: true, oneSession: true },
}

export interface Contender {
  name: string
  kind: 'ours' | 'peer' | 'bare' | 'floor'
  framework: Framework
  store: StoreKind
  /** What runs it (default Node). */
  runtime?: Runtime
  /** Runs only when `--only` names it (`npm run bench:hono`, the observer runs), never in the full run. */
  optIn?: boolean
  /** Extra environment of its server process (`BENCH_OBSERVE`). */
  env?: Record<string, string>
  /** Server file, relative to the repository root. */
  file: string
  /** This library's modules the server imports (relative to the root). */
  modules: string[]
  /** npm packages the server imports. */
  packages: string[]
  /** Part of `--quick`. */
  quick: boolean
  scenarios: Scenario[]
}

const SESSION: Scenario[] = ['S1', 'S2', 'S3', 'S4', 'S3H']
const FW_PACKAGE: Record<Framework, string[]> = { node: [], express: ['express'], fastify: ['fastify'], koa: ['koa'], hono: ['hono', '@hono/node-server'] }
const OUR_STORE: Record<StoreKind, { modules: string[]; packages: string[] }> = {
  none: { modules: [], packages: [] },
  memory: { modules: ['stores/memory.ts'], packages: [] },
  redis: { modules: ['stores/redis.ts'], packages: ['ioredis'] },
  cookie: { modules: ['stores/cookie.ts'], packages: ['jose'] },
  postgres: { modules: ['stores/postgres.ts'], packages: ['pg'] },
}
const ADAPTER: Record<Framework, string[]> = {
  node: [],
  express: ['middleware/express.ts'],
  fastify: ['middleware/fastify.ts', 'fastify-plugin'],
  koa: ['middleware/koa.ts'],
  hono: ['middleware/hono.ts'],
}

function ours(framework: Framework, store: StoreKind, quick: boolean): Contender {
  const adapter = ADAPTER[framework]
  return {
    name: `ours-${framework}-${store}`,
    kind: 'ours',
    framework,
    store,
    file: `bench/servers/ours-${framework}.ts`,
    modules: ['lib/manager.ts', ...adapter.filter((m) => m.endsWith('.ts')), ...OUR_STORE[store].modules],
    packages: [...FW_PACKAGE[framework], ...adapter.filter((m) => !m.endsWith('.ts')), ...OUR_STORE[store].packages],
    quick,
    scenarios: SESSION,
  }
}

function peer(name: string, framework: Framework, store: StoreKind, file: string, packages: string[], quick: boolean): Contender {
  return { name, kind: 'peer', framework, store, file, modules: [], packages: [...FW_PACKAGE[framework], ...packages], quick, scenarios: SESSION }
}

function bare(framework: Framework, quick: boolean): Contender {
  return {
    name: `bare-${framework}`,
    kind: 'bare',
    framework,
    store: 'none',
    file: `bench/servers/bare-${framework}.ts`,
    modules: [],
    packages: FW_PACKAGE[framework],
    quick,
    scenarios: ['S0'],
  }
}

/** A hand-written lower bound (no library): what its store round trips alone cost. */
function floor(name: string, store: StoreKind, packages: string[]): Contender {
  return { name, kind: 'floor', framework: 'node', store, file: `bench/servers/${name}.ts`, modules: [], packages, quick: false, scenarios: ['S2', 'S3', 'S4', 'S3H'] }
}

/**
 * The Hono contenders on one runtime (issue 16): bare Hono, this library's Hono
 * middleware on memory, Redis and the cookie store, @hono/session (its JWE cookie, and
 * its storage hook on Redis) and hono-sessions (memory, cookie, Redis). Names end in
 * the runtime: `ours-hono-redis-bun`.
 */
function hono(runtime: Runtime): Contender[] {
  const on = (c: Contender): Contender => ({ ...c, name: `${c.name}-${runtime}`, runtime, optIn: true })
  return [
    on({ ...bare('hono', false), file: 'bench/servers/bare-hono.ts' }),
    ...(['memory', 'redis', 'cookie'] as const).map((store) => on(ours('hono', store, false))),
    on(peer('hono-session-cookie', 'hono', 'cookie', 'bench/servers/hono-session.ts', ['@hono/session'], false)),
    on(peer('hono-session-redis', 'hono', 'redis', 'bench/servers/hono-session.ts', ['@hono/session', 'ioredis'], false)),
    ...(['memory', 'cookie'] as const).map((store) => on(peer(`hono-sessions-${store}`, 'hono', store, 'bench/servers/hono-sessions.ts', ['hono-sessions'], false))),
    on(peer('hono-sessions-redis', 'hono', 'redis', 'bench/servers/hono-sessions.ts', ['hono-sessions', 'ioredis'], false)),
  ]
}

/**
 * `ours-node-redis` with something observing the manager (issue 18), measured in the
 * same run as the unobserved one: `BENCH_OBSERVE` (bench/servers/ours-store.ts).
 * Named `observed-<how>`, so `--only ours-node-redis` does not pick them.
 */
function observed(how: 'listener' | 'channel' | 'otel'): Contender {
  const base = ours('node', 'redis', false)
  const packages = how === 'otel' ? ['@opentelemetry/api', '@opentelemetry/sdk-trace-base', '@opentelemetry/sdk-metrics'] : []
  return { ...base, name: `observed-${how}`, optIn: true, env: { BENCH_OBSERVE: how }, packages: [...base.packages, ...packages], scenarios: ['S1', 'S2', 'S3'] }
}

export const CONTENDERS: Contender[] = [
  bare('node', true),
  bare('express', false),
  bare('fastify', false),
  bare('koa', false),
  ours('node', 'memory', true),
  ours('node', 'redis', true),
  ours('node', 'cookie', true),
  ours('express', 'memory', false),
  ours('express', 'redis', false),
  ours('fastify', 'memory', false),
  ours('fastify', 'redis', false),
  ours('koa', 'memory', false),
  ours('koa', 'redis', false),
  ours('express', 'postgres', false),
  peer('express-session-memory', 'express', 'memory', 'bench/servers/express-session.ts', ['express-session'], false),
  peer('express-session-redis', 'express', 'redis', 'bench/servers/express-session.ts', ['express-session', 'connect-redis', 'redis'], true),
  peer('express-session-postgres', 'express', 'postgres', 'bench/servers/express-session.ts', ['express-session', 'connect-pg-simple', 'pg'], false),
  peer('fastify-session-memory', 'fastify', 'memory', 'bench/servers/fastify-session.ts', ['@fastify/session', '@fastify/cookie'], false),
  peer('fastify-session-redis', 'fastify', 'redis', 'bench/servers/fastify-session.ts', ['@fastify/session', '@fastify/cookie', 'connect-redis', 'redis'], true),
  peer('koa-session-cookie', 'koa', 'cookie', 'bench/servers/koa-session.ts', ['koa-session'], false),
  peer('koa-session-redis', 'koa', 'redis', 'bench/servers/koa-session.ts', ['koa-session', 'ioredis'], false),
  peer('iron-session', 'node', 'cookie', 'bench/servers/iron-session.ts', ['iron-session'], true),
  floor('floor-node-redis', 'redis', ['ioredis']),
  floor('floor-node-memory', 'memory', []),
  ...hono('node'),
  ...hono('bun'),
  observed('listener'),
  observed('channel'),
  observed('otel'),
]

/** The Bun binary scripts/up-runtimes.sh installs (RUNTIMES_DIR overrides its place, as there). */
export const bunBinary = (): string =>
  join(process.env.RUNTIMES_DIR ?? '/tmp/session-manager/runtimes', 'node_modules/@oven/bun-linux-x64/bin/bun')

/** Why `c` cannot run here (a missing module, package or Redis), or undefined when it can. */
export function unavailable(c: Contender, root: string, redis: boolean): string | undefined {
  const missing = [c.file, ...c.modules].filter((m) => !existsSync(join(root, m)))
  if (missing.length > 0) return `not available: ${missing.join(', ')} missing`
  for (const p of c.packages) {
    if (!existsSync(join(root, 'node_modules', p, 'package.json'))) return `not available: package ${p} not installed`
  }
  if (c.store === 'redis' && !redis) return 'not available: no Redis (redis-server not found)'
  if (c.runtime === 'bun' && !existsSync(bunBinary())) return `not available: no Bun at ${bunBinary()} (bash scripts/up-runtimes.sh)`
  return undefined
}
