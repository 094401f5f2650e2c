/**
 * The dependency direction of STYLE.md: middleware/* -> lib <- stores/*. lib imports no
 * framework, no database client and no store but the dependency-free memory store;
 * stores and middleware never import each other; peers are imported by their own module only.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

const root = new URL('..', import.meta.url).pathname
const peers = ['ioredis', 'etcd3', 'mysql2', 'jose', 'express', 'fastify', 'fastify-plugin', 'koa']

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

t.test('stores import lib and their own client only', async (t) => {
  const bad = imports('stores').filter(({ file, spec, typeOnly }) => {
    if (spec.startsWith('../middleware')) return true
    if (spec.startsWith('./')) return !spec.startsWith(`./${file.split('/')[1]?.replace(/\.ts$/, '').split('-')[0]}`)
    if (peers.includes(spec)) return !typeOnly && !file.includes(spec.replace('mysql2', 'mysql').replace('etcd3', 'etcd').replace('ioredis', 'redis').replace('jose', 'cookie'))
    return false
  })
  t.same(bad, [])
})

t.test('middleware import lib and their own framework only', async (t) => {
  const bad = imports('middleware').filter(({ file, spec }) => {
    if (spec.startsWith('../stores') || spec.startsWith('./')) return true
    if (peers.includes(spec)) return !file.includes(spec.replace('fastify-plugin', 'fastify'))
    return false
  })
  t.same(bad, [])
})

t.test('lib, stores and middleware never import OpenTelemetry; otel/ imports lib and @opentelemetry/api only', async (t) => {
  const bad = ['lib', 'stores', 'middleware'].flatMap(imports).filter(({ spec }) => spec.startsWith('@opentelemetry/'))
  t.same(bad, [])
  const otel = imports('otel').filter(({ spec }) => !spec.startsWith('node:') && spec !== '@opentelemetry/api' && !spec.startsWith('../lib/'))
  t.same(otel, [])
})
