/**
 * Fuzzed session values and stored bytes (see test/helpers/fuzz.ts to replay a seed):
 * every JSON-able value round-trips exactly through the codec and a real store, and any
 * bytes handed to the codec give a record or a CodecError, never anything else.
 */
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import t from 'tap'
import { jsonCodec } from '../../lib/codec.js'
import { CodecError, SessionManager } from '../../lib/index.js'
import { MemoryStore } from '../../stores/memory.js'
import { fuzz, quiet, runs } from '../helpers/fuzz.js'

/** JSON values as a session holds them (-0 is JSON's 0, so it is not generated). */
const value = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown)
const key = fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== '__proto__')

t.test('every session value round-trips exactly through the codec and a store', async (t) => {
  const manager = new SessionManager({ store: new MemoryStore({ sweepInterval: 0 }), logger: quiet })
  await fc.assert(
    fc.asyncProperty(fc.dictionary(key, fc.oneof(value, fc.date({ noInvalidDate: true })), { maxKeys: 5 }), async (values) => {
      const s = await manager.load(undefined)
      for (const [k, v] of Object.entries(values)) manager.put(s, k, v)
      const { token } = await manager.commit(s)
      if (Object.keys(values).length === 0) return
      const back = await manager.load(token)
      for (const [k, v] of Object.entries(values)) {
        const got = manager.get(back, k)
        if (!isDeepStrictEqual(got, v)) {
          throw new Error(`${JSON.stringify(k)}: ${JSON.stringify(v)} came back as ${JSON.stringify(got)}`)
        }
      }
    }),
    fuzz(2000),
  )
  t.pass(`${runs(2000)} sets of values round-tripped`)
})

const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => new TextEncoder().encode(JSON.stringify(v))),
  fc
    .record({ c: fc.anything(), d: fc.anything(), e: fc.anything(), v: fc.anything(), u: fc.anything(), p: fc.anything(), m: fc.anything() }, { requiredKeys: [] })
    .map((doc) => new TextEncoder().encode(JSON.stringify(doc) ?? '')),
)

t.test('any stored bytes decode to a record or throw CodecError', async (t) => {
  fc.assert(
    fc.property(bytes, (b) => {
      try {
        const record = jsonCodec.decode(b)
        if (!(record.values instanceof Map)) throw new Error('a record without values')
      } catch (err) {
        if (!(err instanceof CodecError)) throw err
      }
    }),
    fuzz(5000),
  )
  t.pass(`${runs(5000)} byte strings: a record or CodecError`)
})
