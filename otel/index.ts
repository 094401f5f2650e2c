/**
 * `session-manager/otel`: OpenTelemetry spans and metrics for every SessionManager in
 * the process. It subscribes to the library's diagnostics channels (lib/events.ts), so
 * it needs no reference to a manager and a manager needs no option: call
 * {@link instrument} once at start-up, next to the SDK set-up.
 *
 * Spans: `session-manager commit` (INTERNAL) around each session write with its
 * retries, and `<operation> <store>` (CLIENT, e.g. `find RedisStore`) around each store call, a child
 * of the commit span when inside one. Metrics: see {@link METRICS}. Attribute names
 * follow the semantic conventions where one exists (`db.system.name`,
 * `db.operation.name`, `error.type`, `session.id`); the rest are `session_manager.*`.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import {
  type Attributes, context, metrics, type MeterProvider, type Span, SpanKind, SpanStatusCode, trace, type TracerProvider,
} from '@opentelemetry/api'
import {
  type CommitContext, type CommittedEvent, type ConflictEvent, commitChannel, type ExpiredEvent, type RevokedEvent,
  type StoreCallContext, storeChannel,
} from '../lib/events.js'

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /** Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider
  /** Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider
}

/** The metric names this module records (stable). */
export const METRICS = {
  created: 'session_manager.sessions.created',
  renewed: 'session_manager.sessions.renewed',
  destroyed: 'session_manager.sessions.destroyed',
  revoked: 'session_manager.sessions.revoked',
  expired: 'session_manager.sessions.expired',
  loggedIn: 'session_manager.logins',
  corrupt: 'session_manager.sessions.corrupt',
  storeError: 'session_manager.store.absorbed_errors',
  commits: 'session_manager.commits',
  conflicts: 'session_manager.commit.conflicts',
  overwritten: 'session_manager.put.overwritten',
  duration: 'session_manager.store.duration',
  inFlight: 'session_manager.store.in_flight',
} as const

const SCOPE = 'session-manager'
/** `db.system.name` of the stores that map to a semantic-convention value. */
const SYSTEMS: Record<string, string> = { RedisStore: 'redis', MySQLStore: 'mysql', PostgresStore: 'postgresql' }

/**
 * Start recording spans and metrics for every manager; resolves nothing, returns the
 * function that stops it. Calling it twice records everything twice.
 *
 * @example
 * ```ts
 * import { instrument } from 'session-manager/otel'
 * const stop = instrument()   // after the OpenTelemetry SDK is registered
 * ```
 */
export function instrument(options: InstrumentOptions = {}): () => void {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE)
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE)
  const counter = (name: string, description: string) => meter.createCounter(name, { description, unit: '{session}' })
  const created = counter(METRICS.created, 'Sessions committed for the first time')
  const renewed = counter(METRICS.renewed, 'Token renewals that took effect')
  const destroyed = counter(METRICS.destroyed, 'Sessions destroyed by their own request or merged')
  const revoked = counter(METRICS.revoked, 'Sessions ended by revokeUser, revokeSession or a singleSession login')
  const expired = counter(METRICS.expired, 'Sessions found or reported expired')
  const loggedIn = counter(METRICS.loggedIn, 'Logins committed')
  const corrupt = counter(METRICS.corrupt, 'Stored sessions that did not decode')
  const absorbed = meter.createCounter(METRICS.storeError, { description: "Store failures absorbed by onStoreError: 'anonymous'", unit: '{error}' })
  const commits = meter.createCounter(METRICS.commits, { description: 'Session writes', unit: '{commit}' })
  const conflicts = meter.createCounter(METRICS.conflicts, { description: 'Commit conflicts (rebase or retry)', unit: '{conflict}' })
  const overwritten = meter.createCounter(METRICS.overwritten, { description: 'Plain puts that overwrote a concurrent change (use update there)', unit: '{put}' })
  const duration = meter.createHistogram(METRICS.duration, {
    description: 'Duration of store calls', unit: 's',
    advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] },
  })
  const inFlight = meter.createUpDownCounter(METRICS.inFlight, { description: 'Store calls in progress', unit: '{call}' })

  const storeAttrs = (store: string): Attributes => {
    const system = SYSTEMS[store]
    return system === undefined ? { 'session_manager.store': store } : { 'session_manager.store': store, 'db.system.name': system }
  }

  // The commit span a store call runs under, carried through the commit's async work.
  const within = new AsyncLocalStorage<Span>()
  const commitSpans = new WeakMap<object, Span>()
  commitChannel.start.bindStore(within, (ctx: CommitContext) => {
    const span = tracer.startSpan('session-manager commit', {
      kind: SpanKind.INTERNAL,
      attributes: { ...storeAttrs(ctx.store), 'session.id': ctx.id },
    })
    commitSpans.set(ctx, span)
    return span
  })
  const commitHandlers = {
    start: () => {},
    end: () => {},
    asyncStart: () => {},
    error: (ctx: CommitContext) => {
      const span = commitSpans.get(ctx)
      span?.setStatus({ code: SpanStatusCode.ERROR })
      span?.setAttribute('error.type', errorType(ctx.error))
    },
    asyncEnd: (ctx: CommitContext) => {
      const span = commitSpans.get(ctx)
      if (span === undefined) return
      commitSpans.delete(ctx)
      span.setAttributes({
        'session_manager.commit.attempts': ctx.attempts,
        'session_manager.commit.retries': Math.max(0, ctx.attempts - 1),
        'session_manager.commit.conflicts': ctx.conflicts,
        'session_manager.commit.rebased': ctx.rebased,
        'session_manager.commit.created': ctx.created,
      })
      if (ctx.outcome !== undefined) span.setAttribute('session_manager.commit.outcome', ctx.outcome)
      span.end()
    },
  }

  const calls = new WeakMap<object, { span: Span; start: number; attrs: Attributes }>()
  const storeHandlers = {
    start: (ctx: StoreCallContext) => {
      const parent = within.getStore()
      const active = parent === undefined ? context.active() : trace.setSpan(context.active(), parent)
      const attrs = { ...storeAttrs(ctx.store), 'db.operation.name': ctx.operation }
      const span = tracer.startSpan(`${ctx.operation} ${ctx.store}`, {
        kind: SpanKind.CLIENT,
        attributes: { ...attrs, 'session_manager.attempt': ctx.attempts },
      }, active)
      calls.set(ctx, { span, start: performance.now(), attrs })
      inFlight.add(1, attrs)
    },
    end: () => {},
    asyncStart: () => {},
    error: () => {},
    asyncEnd: (ctx: StoreCallContext) => {
      const call = calls.get(ctx)
      if (call === undefined) return
      calls.delete(ctx)
      inFlight.add(-1, call.attrs)
      const attrs: Attributes = { ...call.attrs, 'session_manager.outcome': ctx.outcome ?? 'ok' }
      if (ctx.error !== undefined) {
        attrs['error.type'] = errorType(ctx.error)
        call.span.setStatus({ code: SpanStatusCode.ERROR, message: (ctx.error as Error).message })
        call.span.setAttribute('error.type', attrs['error.type'])
      }
      call.span.setAttribute('session_manager.outcome', ctx.outcome ?? 'ok')
      duration.record((performance.now() - call.start) / 1000, attrs)
      call.span.end()
    },
  }

  const on: Array<[string, (message: unknown) => void]> = [
    ['session-manager:created', (m) => created.add(1, storeAttrs((m as CommittedEvent).store))],
    ['session-manager:renewed', (m) => renewed.add(1, storeAttrs((m as CommittedEvent).store))],
    ['session-manager:destroyed', (m) => destroyed.add(1, storeAttrs((m as CommittedEvent).store))],
    ['session-manager:revoked', (m) => revoked.add((m as RevokedEvent).count, { ...storeAttrs((m as RevokedEvent).store), 'session_manager.reason': (m as RevokedEvent).reason })],
    ['session-manager:expired', (m) => expired.add(1, { ...storeAttrs((m as ExpiredEvent).store), 'session_manager.expiry.source': (m as ExpiredEvent).source })],
    ['session-manager:loggedIn', (m) => loggedIn.add(1, storeAttrs((m as CommittedEvent).store))],
    ['session-manager:corrupt', (m) => corrupt.add(1, storeAttrs((m as CommittedEvent).store))],
    ['session-manager:storeError', (m) => absorbed.add(1, { ...storeAttrs((m as { store: string }).store), 'error.type': errorType(m) })],
    ['session-manager:committed', (m) => {
      const attrs = storeAttrs((m as CommittedEvent).store)
      commits.add(1, attrs)
      if ((m as CommittedEvent).conflicts > 0) conflicts.add((m as CommittedEvent).conflicts, attrs)
    }],
    ['session-manager:conflict', (m) => overwritten.add(1, { ...storeAttrs((m as ConflictEvent).store), 'session_manager.conflict.kind': (m as ConflictEvent).kind })],
  ]
  for (const [name, fn] of on) subscribe(name, fn)
  commitChannel.subscribe(commitHandlers)
  storeChannel.subscribe(storeHandlers)
  return () => {
    for (const [name, fn] of on) unsubscribe(name, fn)
    commitChannel.unsubscribe(commitHandlers)
    storeChannel.unsubscribe(storeHandlers)
    commitChannel.start.unbindStore(within)
  }
}

/** `error.type`: the library's stable code, else the error's class name. */
function errorType(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code
  if (typeof code === 'string') return code
  return err instanceof Error ? err.name : '_OTHER'
}
