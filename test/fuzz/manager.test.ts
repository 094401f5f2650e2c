/**
 * The manager under fuzzed input (see test/helpers/fuzz.ts to replay a seed): arbitrary
 * option objects at construction, arbitrary Cookie/Authorization headers, tokens, values
 * and deadlines through a real MemoryStore. Every throw or rejection is one of the
 * documented classes (the `SessionManagerError` union: `SessionError` and its
 * subclasses, with a documented code), nothing else, and no rejection goes unhandled.
 */
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { SessionError, SessionManager } from '../../lib/index.js'
import type { SessionErrorCode } from '../../lib/errors.js'
import { MemoryStore } from '../../stores/memory.js'
import { fuzz, quiet, request, runs } from '../helpers/fuzz.js'

const CODES: ReadonlySet<SessionErrorCode> = new Set<SessionErrorCode>([
  'ERR_CONFIG', 'ERR_STORE', 'ERR_STORE_TIMEOUT', 'ERR_STORE_REPLICATION', 'ERR_CODEC', 'ERR_TOO_LARGE',
  'ERR_NO_SESSION', 'ERR_UNSUPPORTED', 'ERR_CONFLICT', 'ERR_SESSION_LIMIT', 'ERR_CSRF', 'ERR_RESPONSE',
])
/** Rethrow anything that is not a documented error, so fast-check reports it with its seed. */
function documented(err: unknown, what: string): void {
  if (err instanceof SessionError && CODES.has(err.code)) return
  throw new Error(`${what}: undocumented ${String(err)}`, { cause: err })
}

let unhandled = 0
const count = () => unhandled++
process.on('unhandledRejection', count)
t.teardown(() => void process.off('unhandledRejection', count))

const store = new MemoryStore({ sweepInterval: 0 })
const OPTIONS = [
  'lifetime', 'idleTimeout', 'prefix', 'cookie', 'transport', 'hashTokenInStore', 'codec', 'maxSize',
  'signingKeys', 'onStoreError', 'errorHandler', 'storeTimeout', 'commitRetries', 'logger',
  'singleSession', 'maxSessionsPerUser', 'onSessionLimit', 'loadUser', 'userCacheTtl', 'store', 'nonsense',
] as const
const cookieOptions = fc.record(
  {
    name: fc.oneof(fc.string(), fc.constantFrom('__Host-sid', '__Secure-sid', 'sid')),
    domain: fc.oneof(fc.string(), fc.constant('example.com')),
    path: fc.oneof(fc.string(), fc.constantFrom('/', '/café/€')),
    secure: fc.oneof(fc.boolean(), fc.constant('auto'), fc.anything()),
    sameSite: fc.oneof(fc.constantFrom('lax', 'strict', 'none', 'None'), fc.anything()),
    partitioned: fc.anything(),
    httpOnly: fc.anything(),
    persist: fc.anything(),
  },
  { requiredKeys: [] },
)
const duration = fc.oneof(fc.anything(), fc.double(), fc.integer(), fc.constantFrom('30m', '99999999999w', '30d', '1e300', 1e300, -1, 0))
const optionValue = fc.oneof(duration, cookieOptions, fc.anything())
const options = fc.oneof(
  fc.dictionary(fc.constantFrom(...OPTIONS), optionValue, { maxKeys: 6 }),
  fc.anything(),
)

t.test('new SessionManager(arbitrary options) succeeds or throws a documented error', async (t) => {
  let built = 0
  fc.assert(
    fc.property(options, (o) => {
      try {
        new SessionManager(o !== null && typeof o === 'object' ? { store, logger: quiet, ...o } : (o as never))
        built++
      } catch (err) {
        documented(err, `options ${fc.stringify(o)}`)
      }
    }),
    fuzz(3000),
  )
  t.pass(`${runs(3000)} option objects (${built} accepted)`)
})

const header = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }))
const value = fc.oneof(fc.anything(), fc.jsonValue(), fc.date(), fc.bigInt(), fc.uint8Array({ maxLength: 20 }), fc.func(fc.anything()))

t.test('arbitrary headers, tokens, values and deadlines: only documented errors, nothing unhandled', async (t) => {
  const key = randomBytes(32)
  const managers = [
    new SessionManager({ store, logger: quiet, transport: 'both', maxSize: 2000 }),
    new SessionManager({ store, logger: quiet, transport: 'both', signingKeys: [key], cookie: { name: '__Host-sid', secure: true } }),
  ]
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: managers.length - 1 }),
      fc.option(header),
      fc.option(header),
      fc.option(header),
      fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 3 }),
      fc.option(fc.date()),
      async (which, cookie, auth, token, values, deadline) => {
        const manager = managers[which] as SessionManager
        const ctx = {}
        let session
        try {
          session = await manager.attach(ctx, request(cookie ?? undefined, auth ?? undefined))
        } catch (err) {
          return documented(err, 'attach')
        }
        try {
          for (const [k, v] of Object.entries(values)) manager.put(ctx, k, v)
          if (deadline !== null) manager.setDeadline(ctx, deadline)
        } catch (err) {
          documented(err, 'put/setDeadline')
        }
        try {
          await manager.end(session)
        } catch (err) {
          documented(err, 'end')
        }
        try {
          const loaded = await manager.load(token ?? undefined)
          await manager.commit(loaded)
        } catch (err) {
          documented(err, 'load/commit')
        }
      },
    ),
    fuzz(2000),
  )
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(unhandled, 0, 'no unhandled rejection')
  t.pass(`${runs(2000)} requests`)
})
