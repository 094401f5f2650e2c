import t from 'tap'
import { jsonCodec, type SessionRecord } from '../../lib/codec.js'

const record = (values: Record<string, unknown>): SessionRecord => ({
  created: 1,
  deadline: 2,
  expiry: 2,
  values: new Map(Object.entries(values)),
})
const bytes = (s: string) => new TextEncoder().encode(s)

t.test('jsonCodec round-trips the record fields', async (t) => {
  const r = { ...record({ a: 1 }), persist: false, user: 'u', seen: 5, meta: { ip: '::1', at: new Date(3) } }
  const back = jsonCodec.decode(jsonCodec.encode(r))
  t.same(back, r)
  t.ok(back.meta?.at instanceof Date)
})

t.test('jsonCodec refuses what it cannot round-trip', async (t) => {
  class Point { x = 1 }
  t.throws(() => jsonCodec.encode(record({ p: new Point() })), { code: 'ERR_CODEC', message: /Point/ })
  t.throws(() => jsonCodec.encode(record({ f: () => 1 })), { code: 'ERR_CODEC', message: /function/ })
  t.throws(() => jsonCodec.encode(record({ s: Symbol('x') })), { code: 'ERR_CODEC' })
  const cycle: Record<string, unknown> = {}
  cycle.self = cycle
  t.throws(() => jsonCodec.encode(record({ cycle })), { code: 'ERR_CODEC', message: /deeper/ })
})

t.test('jsonCodec.decode rejects corrupt bytes with ERR_CODEC, never another error', async (t) => {
  const bad = [
    new Uint8Array([0xff, 0xfe, 0x00]),
    bytes(''),
    bytes('null'),
    bytes('[]'),
    bytes('{"c":1,"d":2}'),
    bytes('{"c":"1","d":2,"e":2,"v":{}}'),
    bytes('{"c":1,"d":2,"e":2,"v":{"a":{"$t":"wat","v":1}}}'),
    bytes('{"c":1,"d":2,"e":2,"v":{"a":{"$t":"bigint","v":"1.5"}}}'),
    bytes('{"c":1,"d":2,"e":2,"v":{"a":{"$t":"Map","v":3}}}'),
    bytes('{"c":1,"d":2,"e":2,"v":{"a":{"$t":"obj","v":null}}}'),
    bytes('{"c":1,"d":2,"e":2,"v":{},"p":"yes"}'),
  ]
  // Named by their bytes in hex: a raw invalid byte in a test name would make the log binary.
  for (const b of bad) t.throws(() => jsonCodec.decode(b), { code: 'ERR_CODEC' }, Buffer.from(b).toString('hex') || '(empty)')
})

t.test('jsonCodec keeps a user key named like a tag as data', async (t) => {
  const back = jsonCodec.decode(jsonCodec.encode(record({ o: { $t: 'Date', v: 0 } })))
  t.same(back.values.get('o'), { $t: 'Date', v: 0 })
  const proto = jsonCodec.decode(bytes('{"c":1,"d":2,"e":2,"v":{"__proto__":{"polluted":true}}}'))
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution')
  t.same(proto.values.get('__proto__'), { polluted: true })
})
