/**
 * The dependency direction of STYLE.md: middleware/* -> lib <- stores/*. lib imports no
 * framework, no database client and no store but the dependency-free memory store;
 * stores and middleware never import each other; peers are imported by their own module only.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

const root = new URL('..', import.meta.url).pathname
const peers = ['ioredis', 'etcd3', 'mysql2', 'pg', 'jose', 'express', 'fastify', 'fastify-plugin', 'koa', 'hono']

function imports(dir: string): Array<{ file: string; spec: string; typeOnly: boolean }> {
  const out = []
  for (const name of readdirSync(join(root, dir))) {
    if (!name.endsWith('.ts')) continue
    const text = readFileSync(join(root, dir, name), 'utf8')
    for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)) {
      out.push({ file: `${dir}/${name}`, spec: m[3] ?? '', typeOnly: m[2] !== undefined })
    }
  }
  return out
}

t.test('lib imports no framework, client or store but memory', async (t) => {
  const bad = imports('lib').filter(
    ({ spec }) => peers.includes(spec) || spec.startsWith('../middleware') || (spec.startsWith('../stores') && spec !== '../stores/memory.js'),
  )
  t.same(bad, [])
})

/** Store modules shared by several stores: they import no client, so any store may use them. */
const sharedStoreModules = ['./sql-cleanup.js', './retry.js']

t.test('stores import lib and their own client only', async (t) => {
  const shared = imports('stores').filter(({ file }) => sharedStoreModules.includes(`./${file.split('/')[1]?.replace(/\.ts$/, '.js')}`))
  t.same(shared.filter(({ spec }) => !spec.startsWith('../lib/')), [], 'a shared store module imports nothing but lib')
  const bad = imports('stores').filter(({ file, spec, typeOnly }) => {
    if (spec.startsWith('../middleware')) return true
    if (sharedStoreModules.includes(spec)) return false
    if (spec.startsWith('./')) return !spec.startsWith(`./${file.split('/')[1]?.replace(/\.ts$/, '').split('-')[0]}`)
    if (peers.includes(spec)) return !typeOnly && !file.includes(spec.replace(/^pg$/, 'postgres').replace('mysql2', 'mysql').replace('etcd3', 'etcd').replace('ioredis', 'redis').replace('jose', 'cookie'))
    return false
  })
  t.same(bad, [])
})

t.test('middleware import lib and their own framework only', async (t) => {
  const bad = imports('middleware').filter(({ file, spec }) => {
    if (spec.startsWith('../stores')) return true
    // An adapter may split itself into files of its own (express.ts -> ./express-compat.js), never reach another.
    if (spec.startsWith('./')) return !spec.startsWith(`./${file.split('/')[1]?.replace(/\.ts$/, '').split('-')[0]}-`)
    if (peers.includes(spec)) return !file.includes(spec.replace('fastify-plugin', 'fastify'))
    return false
  })
  t.same(bad, [])
})

/** Every import of every .ts file under lib/ (recursively), resolved to a path. */
function libGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(rel)
      else if (entry.name.endsWith('.ts')) {
        // Comments out first: a TSDoc example's imports are not the file's.
        const text = readFileSync(join(root, rel), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '')
        const specs = [...text.matchAll(/^\s*(?:import|export)\s+[^'";]*?from\s+'([^']+)'/gm)].map((m) => m[1] ?? '')
        graph.set(rel, specs)
      }
    }
  }
  walk('lib')
  return graph
}

t.test('only lib/node/ names node:http; the rest of the core is runtime-neutral', async (t) => {
  const offenders: string[] = []
  for (const [file, specs] of libGraph()) {
    if (file.startsWith('lib/node/')) continue
    for (const spec of specs) if (spec === 'node:http' || spec === 'http' || spec === 'node:https') offenders.push(`${file} -> ${spec}`)
    const text = readFileSync(join(root, file), 'utf8')
    if (/\b(IncomingMessage|ServerResponse|OutgoingMessage)\b/.test(text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''))) {
      offenders.push(`${file} names a Node http type`)
    }
  }
  t.same(offenders, [])
  t.ok(libGraph().has('lib/node/serve.ts'), 'the Node glue lives in lib/node/')
})

t.test('lib has no import cycle', async (t) => {
  const graph = libGraph()
  const resolve = (from: string, spec: string) => {
    if (!spec.startsWith('.')) return undefined
    const parts = from.split('/').slice(0, -1)
    for (const p of spec.split('/')) {
      if (p === '..') parts.pop()
      else if (p !== '.') parts.push(p)
    }
    const file = parts.join('/').replace(/\.js$/, '.ts')
    return graph.has(file) ? file : undefined
  }
  const cycles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return
    if (state.get(file) === 'open') {
      cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '))
      return
    }
    state.set(file, 'open')
    for (const spec of graph.get(file) ?? []) {
      const next = resolve(file, spec)
      if (next !== undefined) visit(next, [...path, file])
    }
    state.set(file, 'done')
  }
  for (const file of graph.keys()) visit(file, [])
  t.same(cycles, [])
})

t.test('lib, stores and middleware never import OpenTelemetry; otel/ imports lib and @opentelemetry/api only', async (t) => {
  const bad = ['lib', 'stores', 'middleware'].flatMap(imports).filter(({ spec }) => spec.startsWith('@opentelemetry/'))
  t.same(bad, [])
  const otel = imports('otel').filter(({ spec }) => !spec.startsWith('node:') && spec !== '@opentelemetry/api' && !spec.startsWith('../lib/'))
  t.same(otel, [])
})

t.test('the Fetch path (middleware/fetch.ts, middleware/hono.ts) loads nothing of node:http, at run time', async (t) => {
  // Runtime imports only (import type is erased), followed transitively through our own files.
  const runtimeSpecs = (file: string) => {
    const text = readFileSync(join(root, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '')
    return [...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^'";]*?from\s+'([^']+)'/gm)].map((m) => m[1] ?? '')
  }
  const nodeWeb = ['node:http', 'http', 'node:https', 'https', 'node:net', 'net', 'node:tls', 'node:stream', 'stream']
  for (const entry of ['middleware/fetch.ts', 'middleware/hono.ts']) {
    const seen = new Set<string>()
    const offenders: string[] = []
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      for (const spec of runtimeSpecs(file)) {
        if (nodeWeb.includes(spec)) offenders.push(`${file} -> ${spec}`)
        if (!spec.startsWith('.')) continue
        const parts = file.split('/').slice(0, -1)
        for (const p of spec.split('/')) {
          if (p === '..') parts.pop()
          else if (p !== '.') parts.push(p)
        }
        visit(parts.join('/').replace(/\.js$/, '.ts'))
      }
    }
    visit(entry)
    t.same(offenders, [], `${entry}: no node:http on its path`)
    t.ok(seen.has('lib/web.ts'), `${entry} goes through the web glue`)
    t.ok(seen.has('lib/manager.ts'), `${entry}: the walk followed the core (${seen.size} files)`)
  }
})
