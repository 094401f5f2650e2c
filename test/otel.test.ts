/**
 * session-manager/otel against the real OpenTelemetry SDK: an in-memory span exporter
 * and an in-memory metric reader, a real HTTP server and client.
 */
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { context, trace } from '@opentelemetry/api'
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import t from 'tap'
import { SessionManager } from '../lib/index.js'
import { instrument, METRICS } from '../otel/index.js'
import { MemoryStore } from '../stores/memory.js'
import { Client, listen } from './helpers/http.js'
import { SpyStore } from './helpers/spy-store.js'

class TestReader extends MetricReader {
  constructor() { super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE }) }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const cm = new AsyncLocalStorageContextManager().enable()
context.setGlobalContextManager(cm)

async function setup(t: import('tap').Test) {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const reader = new TestReader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  const stop = instrument({ tracerProvider, meterProvider })
  const store = new SpyStore(new MemoryStore())
  const manager = new SessionManager({ store, logger: { warn: () => {}, error: () => {} } })
  const tracer = tracerProvider.getTracer('test')
  const server = await listen((req, res) => {
    // What an HTTP server instrumentation does: the request runs under its span.
    const span = tracer.startSpan('GET')
    res.on('finish', () => span.end())
    context.with(trace.setSpan(context.active(), span), () => handler(req, res))
  })
  const handler = manager.loadAndSave(async (req, res) => {
    if (req.url === '/put') manager.put(req, 'n', manager.getNumber(req, 'n') + 1)
    if (req.url === '/login') await manager.login(req, 'alice')
    if (req.url === '/destroy') await manager.destroy(req)
    res.end(`n=${manager.getNumber(req, 'n')}`)
  })
  t.teardown(async () => {
    stop()
    await server.close()
  })
  const metric = async (name: string) => {
    const { resourceMetrics } = await reader.collect()
    return (resourceMetrics as ResourceMetrics).scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name)
  }
  const sum = async (name: string) => ((await metric(name))?.dataPoints ?? []).reduce((n, p) => n + (p.value as number), 0)
  return { exporter, store, manager, client: new Client(server.url), metric, sum }
}

t.test('otel: a commit span with its store calls as children, under the request span', async (t) => {
  const { exporter, client } = await setup(t)
  await client.get('/put')
  const spans = exporter.getFinishedSpans()
  const commit = spans.find((s) => s.name === 'session-manager commit')
  const write = spans.find((s) => s.name === 'commit Spy(MemoryStore)')
  const request = spans.find((s) => s.name === 'GET')
  t.ok(commit && write && request, 'commit, store-call and request spans')
  t.equal(write?.parentSpanContext?.spanId, commit?.spanContext().spanId, 'the store call is a child of the commit')
  t.equal(commit?.parentSpanContext?.spanId, request?.spanContext().spanId, 'the commit is a child of the request')
  t.match(commit?.attributes, {
    'session_manager.store': 'Spy(MemoryStore)', 'session.id': /^[A-Za-z0-9_-]{22}$/,
    'session_manager.commit.attempts': 1, 'session_manager.commit.retries': 0, 'session_manager.commit.conflicts': 0,
    'session_manager.commit.rebased': false, 'session_manager.commit.created': true, 'session_manager.commit.outcome': 'saved',
  })
  t.match(write?.attributes, { 'db.operation.name': 'commit', 'session_manager.store': 'Spy(MemoryStore)', 'session_manager.outcome': 'ok', 'session_manager.attempt': 1 })
  t.equal(write?.kind, 2, 'CLIENT')
  exporter.reset()
  await client.get('/')
  const read = exporter.getFinishedSpans().find((s) => s.attributes['db.operation.name'] === 'find')
  t.equal(read?.parentSpanContext?.spanId, exporter.getFinishedSpans().find((s) => s.name === 'GET')?.spanContext().spanId, 'a load span is a child of the request')
})

t.test('otel: conflicts and retries as commit attributes and counters', async (t) => {
  const { exporter, store, client, sum } = await setup(t)
  await client.get('/put')
  store.delay = 30
  await Promise.all(Array.from({ length: 5 }, () => client.get('/put')))
  store.delay = 0
  const commits = exporter.getFinishedSpans().filter((s) => s.name === 'session-manager commit')
  t.equal(commits.length, 6)
  const conflicts = commits.reduce((n, s) => n + (s.attributes['session_manager.commit.conflicts'] as number), 0)
  t.ok(conflicts > 0, `conflicts recorded on spans (${conflicts})`)
  t.ok(commits.some((s) => s.attributes['session_manager.commit.rebased'] === true))
  t.equal(await sum(METRICS.conflicts), conflicts, 'the conflict counter agrees')
  // Each /put is put(n, n + 1): a rebase onto another's commit overwrote its n.
  const overwritten = await sum(METRICS.overwritten)
  t.ok(overwritten >= 1 && overwritten <= conflicts, `overwritten puts counted (${overwritten} of ${conflicts} conflicts)`)
  t.equal(await sum(METRICS.commits), 6)
})

t.test('otel: session counters, store latency histogram, in-flight gauge, errors', async (t) => {
  const { store, client, metric, sum } = await setup(t)
  await client.get('/put')
  await client.get('/login')
  await client.get('/destroy')
  t.equal(await sum(METRICS.created), 1)
  t.equal(await sum(METRICS.renewed), 1)
  t.equal(await sum(METRICS.loggedIn), 1)
  t.equal(await sum(METRICS.destroyed), 1)
  const duration = await metric(METRICS.duration)
  t.equal(duration?.descriptor.unit, 's')
  const points = (duration?.dataPoints ?? []) as Array<{ attributes: Record<string, unknown>; value: { count: number } }>
  t.ok(points.some((p) => p.attributes['db.operation.name'] === 'find' && p.value.count >= 2), 'find latencies recorded')
  t.ok(points.some((p) => p.attributes['db.operation.name'] === 'delete'))
  t.equal(await sum(METRICS.inFlight), 0, 'nothing in flight once requests are done')
  store.delay = 200
  const pending = new Client(client.base)
  const slow = pending.get('/put')
  await new Promise((r) => setTimeout(r, 100))
  t.equal(await sum(METRICS.inFlight), 1, 'one store call in flight during a slow commit')
  await slow
  store.delay = 0
  store.mode = 'down'
  t.equal((await pending.get('/')).status, 500)
  store.mode = 'up'
  const failed = ((await metric(METRICS.duration))?.dataPoints ?? []).filter((p) => p.attributes['error.type'] === 'ERR_STORE')
  t.equal(failed.length, 1, 'a failed call is recorded with error.type')
})

t.test('otel: stop() unsubscribes: nothing more is recorded', async (t) => {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const stop = instrument({ tracerProvider })
  stop()
  const manager = new SessionManager()
  const server = await listen(manager.loadAndSave((req, res) => { manager.put(req, 'n', 1); res.end('ok') }))
  t.teardown(() => server.close())
  await new Client(server.url).get('/')
  t.same(exporter.getFinishedSpans(), [])
})
