/**
 * Fuzzed Cookie and Authorization headers (see test/helpers/fuzz.ts to replay a seed):
 * our parser agrees with the `cookie` package, and no malformed or forged token costs a
 * store call, counted by a spy around a real MemoryStore.
 */
import { randomBytes } from 'node:crypto'
import { parseCookie } from 'cookie'
import fc from 'fast-check'
import t from 'tap'
import { readCookies } from '../../lib/cookie.js'
import { SessionManager } from '../../lib/index.js'
import { MemoryStore } from '../../stores/memory.js'
import { fuzz, quiet, request, runs, tamperings } from '../helpers/fuzz.js'
import { SpyStore } from '../helpers/spy-store.js'

const NAME = 'sid'
const tokenChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')
const piece = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom(NAME, `${NAME}=`, ';', '; ', '=', '"', ' ', ',', '%', '%2', '%3D', '\t', `x ${NAME}=y`, '__Host-', 'é'),
  fc.string({ unit: tokenChar, minLength: 40, maxLength: 46 }),
)
/** A Cookie header built of fragments that stress pair boundaries, quoting and encoding. */
const header = fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(''))

t.test('readCookies agrees with the cookie package on every generated header', async (t) => {
  fc.assert(
    fc.property(header, (h) => {
      const ours = readCookies(h, NAME)
      const theirs = parseCookie(h)[NAME]
      if (ours[0] !== theirs) throw new Error(`ours ${JSON.stringify(ours)} vs cookie ${JSON.stringify(theirs)} for ${JSON.stringify(h)}`)
      // Every value we find is a pair cookie parses on its own.
      for (const [i, value] of ours.entries()) if (typeof value !== 'string') throw new Error(`value ${i} is not a string`)
    }),
    fuzz(5000),
  )
  t.pass(`${runs(5000)} headers agreed`)
})

t.test('no malformed or forged token costs a store call, and nothing throws', async (t) => {
  const key = randomBytes(32)
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }))
  const signed = new SessionManager({ store, transport: 'both', signingKeys: [key], cookie: { name: NAME }, logger: quiet })
  const first = {}
  const s = await signed.attach(first, request(undefined))
  signed.put(first, 'n', 1)
  const headers = await signed.end(s)
  const wire = /^sid=([^;]+)/.exec(headers.find(([n]) => n === 'set-cookie')?.[1] ?? '')?.[1] ?? ''
  t.match(wire, /^[\w-]{43}\./, 'a signed token to forge')
  await fc.assert(
    fc.asyncProperty(header, fc.option(fc.string({ maxLength: 80 })), async (h, auth) => {
      store.reset()
      const ctx = {}
      const session = await signed.attach(ctx, request(h, auth === null ? undefined : `Bearer ${auth}`))
      if (store.total !== 0) throw new Error(`a store call for unsigned input ${JSON.stringify(h)} / ${JSON.stringify(auth)}`)
      if (!session.isNew) throw new Error('a session from unsigned input')
      await signed.end(session)
    }),
    fuzz(3000),
  )
  t.pass(`${runs(3000)} unsigned headers: no store call`)
  // Forgeries of the real signed cookie: a flipped bit, a truncation, a re-encoding.
  const forged = tamperings(wire, [
    fc.constantFrom(encodeURIComponent(wire).replace(/\./g, '%2E'), wire.toUpperCase(), wire.replace(/-/g, '+'), `"${wire}"x`),
  ]).filter((f) => f !== wire && decodeURIComponent(safe(f)) !== wire)
  await fc.assert(
    fc.asyncProperty(forged, async (f) => {
      store.reset()
      const a = await signed.attach({}, request(`${NAME}=${f}`))
      const b = await signed.attach({}, request(undefined, `Bearer ${f}`))
      if (store.total !== 0) throw new Error(`a store call for forged ${JSON.stringify(f)}`)
      await signed.end(a)
      await signed.end(b)
    }),
    fuzz(3000),
  )
  t.pass(`${runs(3000)} forgeries: no store call`)
  store.reset()
  const ctx = {}
  await signed.attach(ctx, request(`${NAME}=${wire}`))
  t.equal(signed.get(ctx, 'n'), 1, 'the real cookie still loads')
  t.ok(store.total > 0, 'with a store call')
})

function safe(s: string): string {
  try {
    decodeURIComponent(s)
    return s
  } catch {
    return ''
  }
}
