/**
 * Fuzzed sealed cookies (see test/helpers/fuzz.ts to replay a seed): a bit flip, a
 * truncation or a re-encoding of a real sealed value never opens, never throws, and
 * over the manager is no session; every sealed value opens to exactly its bytes.
 */
import { randomBytes } from 'node:crypto'
import { parseCookie } from 'cookie'
import fc from 'fast-check'
import t from 'tap'
import { SessionManager } from '../../lib/index.js'
import { CookieStore } from '../../stores/cookie.js'
import { fuzz, quiet, request, runs, tamperings } from '../helpers/fuzz.js'

const later = () => new Date(Date.now() + 3_600_000)

t.test('every sealed value opens to exactly its bytes', async (t) => {
  const store = new CookieStore({ keys: [randomBytes(32)] })
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (data) => {
      const opened = await store.open(await store.seal(data, later()))
      if (opened === undefined || Buffer.compare(Buffer.from(opened), Buffer.from(data)) !== 0) throw new Error('did not round-trip')
    }),
    fuzz(2000),
  )
  t.pass(`${runs(2000)} values round-tripped`)
})

t.test('a tampered sealed value never opens and never throws', async (t) => {
  const store = new CookieStore({ keys: [randomBytes(32)] })
  const manager = new SessionManager({ store, logger: quiet })
  const sealed = await store.seal(new TextEncoder().encode('{"c":0,"d":9e15,"e":9e15,"v":{"n":1}}'), later())
  t.ok(await store.open(sealed), 'the original opens')
  const ABC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = ABC.indexOf(sealed.at(-1) ?? 'A')
  const sameBytes = sealed.slice(0, -1) + ABC[last ^ 1]
  t.equal(await store.open(sameBytes), undefined, 'a tag differing only in unused trailing bits (non-canonical base64url) does not open')
  const tampered = tamperings(sealed, [
    fc.tuple(fc.nat({ max: sealed.length }), fc.string({ minLength: 1, maxLength: 4 })).map(([at, s]) => sealed.slice(0, at) + s + sealed.slice(at)),
    fc.constantFrom(
      Buffer.from(sealed, 'base64url').toString('base64'),
      encodeURIComponent(sealed).replace(/-/g, '%2D'),
      sealed.toLowerCase(),
      `${sealed}=`,
    ),
  ]).filter((v) => v !== sealed)
  await fc.assert(
    fc.asyncProperty(tampered, async (v) => {
      if ((await store.open(v)) !== undefined) throw new Error(`a tampered value opened: ${JSON.stringify(v)}`)
      // A percent-encoding or padding with spaces of the very value is the same cookie
      // (the cookie package decodes and trims it): the manager rightly loads it.
      if (parseCookie(`session=${v}`).session === sealed) return
      const ctx = {}
      const session = await manager.attach(ctx, request(`session=${v}`))
      if (!session.isNew) throw new Error(`a tampered cookie gave a session: ${JSON.stringify(v)}`)
      await manager.end(session)
    }),
    fuzz(3000),
  )
  t.pass(`${runs(3000)} tamperings refused`)
})

