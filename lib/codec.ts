import { CodecError } from './errors.js'

/**
 * Everything the manager persists about one session. The deadline and the expiry
 * travel inside the encoded bytes (as in SCS), so every store enforces them alike.
 */
export interface SessionRecord {
  /** Creation time, ms since the epoch. */
  created: number
  /** Absolute deadline (creation + lifetime unless changed), ms. */
  deadline: number
  /** Expiry written with this record: min(last activity + idle timeout, deadline), ms. */
  expiry: number
  /** Per-session cookie persistence (`rememberMe`); undefined follows `cookie.persist`. */
  persist?: boolean | undefined
  /** The user this session is bound to (see `login`). */
  user?: string | undefined
  /** Metadata recorded at login (user agent, IP, …). */
  meta?: Record<string, unknown> | undefined
  /** Last request that committed this session, ms. */
  seen?: number | undefined
  /** When the bound user logged in, ms (orders logins for `singleSession`). */
  login?: number | undefined
  /** A renewed session's old copy, readable for `renewGrace` but never written. */
  readOnly?: boolean | undefined
  /**
   * Set on a renewed session's old key: the store key the session moved to. A request
   * still running on the old token commits there instead; a new request is not let in.
   */
  forward?: string | undefined
  /**
   * Set on a renewed session: the old key, where its forward lives `until` (ms). A
   * `destroy` deletes it too, so nothing of the session outlives a log-out.
   */
  previous?: { key: string; until: number } | undefined
  /** The user's values. */
  values: Map<string, unknown>
}

/**
 * Turns a session record into bytes and back. Throw `CodecError` (or anything: the
 * manager wraps it) on data it cannot handle.
 */
export interface Codec {
  encode(record: SessionRecord): Uint8Array
  decode(bytes: Uint8Array): SessionRecord
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const TAG = '$t'
const MAX_DEPTH = 64
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Set an own property, `__proto__` included: plain assignment of `__proto__` would set
 * the object's prototype instead (dropping the key, or — decoding hostile bytes —
 * handing the object a prototype of the attacker's choosing).
 */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
  else obj[key] = value
}

function tagged(type: string, v: Json): Json {
  return { [TAG]: type, v }
}

function pack(value: unknown, depth: number): Json {
  if (depth > MAX_DEPTH) throw new CodecError(`session value nested deeper than ${MAX_DEPTH} (a cycle?)`)
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (Object.is(value, -0)) return tagged('num', '-0')
      return Number.isFinite(value) ? value : tagged('num', String(value))
    case 'bigint':
      return tagged('bigint', value.toString())
    case 'undefined':
      return tagged('undef', null)
    case 'object': {
      if (value === null) return null
      if (Array.isArray(value)) return value.map((v) => pack(v, depth + 1))
      if (value instanceof Date) {
        return tagged('Date', Number.isNaN(value.getTime()) ? null : value.getTime())
      }
      if (value instanceof Uint8Array) return tagged('bytes', Buffer.from(value).toString('base64'))
      if (value instanceof Map) {
        return tagged('Map', [...value].map(([k, v]) => [pack(k, depth + 1), pack(v, depth + 1)]))
      }
      if (value instanceof Set) return tagged('Set', [...value].map((v) => pack(v, depth + 1)))
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        throw new CodecError(`cannot encode a ${proto?.constructor?.name ?? 'object'} in a session`)
      }
      const out: { [key: string]: Json } = {}
      for (const [k, v] of Object.entries(value)) setOwn(out, k, pack(v, depth + 1))
      // A user object that has our tag key is wrapped so it is never taken for a tag.
      return TAG in out ? tagged('obj', out) : out
    }
    default:
      throw new CodecError(`cannot encode a ${typeof value} in a session`)
  }
}

function unpack(json: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new CodecError('stored session nested too deep')
  if (json === null || typeof json !== 'object') return json
  if (Array.isArray(json)) return json.map((v) => unpack(v, depth + 1))
  const obj = json as Record<string, unknown>
  if (typeof obj[TAG] !== 'string') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(obj)) setOwn(out, k, unpack(v, depth + 1))
    return out
  }
  const v = obj.v
  switch (obj[TAG]) {
    case 'num':
      return Number(v)
    case 'bigint':
      return BigInt(String(v))
    case 'undef':
      return undefined
    case 'Date':
      return new Date(v === null ? Number.NaN : Number(v))
    case 'bytes':
      return new Uint8Array(Buffer.from(String(v), 'base64'))
    case 'Map':
      return new Map(list(v).map((pair) => {
        const [k, val] = list(pair)
        return [unpack(k, depth + 1), unpack(val, depth + 1)] as const
      }))
    case 'Set':
      return new Set(list(v).map((x) => unpack(x, depth + 1)))
    case 'obj': {
      const out: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v as object)) setOwn(out, k, unpack(x, depth + 1))
      return out
    }
    default:
      throw new CodecError(`unknown type tag ${String(obj[TAG])} in stored session`)
  }
}

function list(v: unknown): unknown[] {
  if (!Array.isArray(v)) throw new CodecError('malformed stored session')
  return v
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/**
 * The default codec: JSON with type tags, so `Date`, `BigInt`, `Uint8Array` (and
 * `Buffer`, which comes back as `Uint8Array`), `Map`, `Set`, `undefined`, `NaN` and
 * `Infinity` round-trip exactly. Class instances and functions are refused with a
 * `CodecError` rather than silently flattened.
 *
 * @example
 * ```ts
 * const bytes = jsonCodec.encode({ created, deadline, expiry, values: new Map([['at', new Date()]]) })
 * jsonCodec.decode(bytes).values.get('at') instanceof Date // true
 * ```
 */
export const jsonCodec: Codec = {
  encode(record) {
    const values: { [key: string]: Json } = {}
    for (const [k, v] of record.values) setOwn(values, k, pack(v, 0))
    const doc: { [key: string]: Json } = {
      c: record.created,
      d: record.deadline,
      e: record.expiry,
      v: values,
    }
    if (record.persist !== undefined) doc.p = record.persist
    if (record.user !== undefined) doc.u = record.user
    if (record.seen !== undefined) doc.s = record.seen
    if (record.login !== undefined) doc.l = record.login
    if (record.readOnly === true) doc.r = true
    if (record.forward !== undefined) doc.f = record.forward
    if (record.previous !== undefined) doc.o = [record.previous.key, record.previous.until]
    if (record.meta !== undefined) doc.m = pack(record.meta, 0)
    return encoder.encode(JSON.stringify(doc))
  },
  decode(bytes) {
    let doc: unknown
    try {
      doc = JSON.parse(decoder.decode(bytes))
    } catch (cause) {
      throw new CodecError('stored session is not valid JSON', { cause })
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new CodecError('stored session is not an object')
    }
    const d = doc as Record<string, unknown>
    if (!isNum(d.c) || !isNum(d.d) || !isNum(d.e) || d.v === null || typeof d.v !== 'object') {
      throw new CodecError('stored session lacks its times or values')
    }
    if (d.p !== undefined && typeof d.p !== 'boolean') throw new CodecError('bad persist flag')
    if (d.u !== undefined && typeof d.u !== 'string') throw new CodecError('bad user')
    if (d.f !== undefined && typeof d.f !== 'string') throw new CodecError('bad forward')
    const o = d.o as unknown
    if (o !== undefined && !(Array.isArray(o) && o.length === 2 && typeof o[0] === 'string' && isNum(o[1]))) throw new CodecError('bad previous key')
    const values = new Map<string, unknown>()
    let meta: Record<string, unknown> | undefined
    try {
      for (const [k, v] of Object.entries(d.v)) values.set(k, unpack(v, 0))
      if (d.m !== undefined) meta = unpack(d.m, 0) as Record<string, unknown>
    } catch (cause) {
      if (cause instanceof CodecError) throw cause
      throw new CodecError('malformed value in stored session', { cause })
    }
    return {
      created: d.c,
      deadline: d.d,
      expiry: d.e,
      persist: d.p as boolean | undefined,
      user: d.u as string | undefined,
      seen: isNum(d.s) ? d.s : undefined,
      login: isNum(d.l) ? d.l : undefined,
      readOnly: d.r === true ? true : undefined,
      forward: d.f as string | undefined,
      previous: o === undefined ? undefined : { key: (o as [string, number])[0], until: (o as [string, number])[1] },
      meta,
      values,
    }
  },
}
