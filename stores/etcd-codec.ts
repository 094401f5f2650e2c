/**
 * Byte layout of the etcd store: the value envelope and the key helpers.
 *
 * Values are envelopes `[kind: 1 byte][expiry: uint64 ms, big-endian][data…]`, so the
 * exact expiry travels with the data and is enforced on read (a lease, shared by a
 * whole expiry bucket, only removes the key up to one bucket later). A renewal's
 * forward is a session entry of its own kind, so the expiry watch can tell its lapse
 * from a session's expiry from the deleted value alone; entries written before that
 * kind existed are plain sessions.
 */

import { secureRandom } from '../lib/token.js'
import { ConfigError } from '../lib/errors.js'

/** Envelope kind of a session entry. */
export const SESSION = 1
/** Envelope kind of a user-index member (no data). */
export const MEMBER = 2
/**
 * Envelope kind of a session entry that is a renewal's forward (`CommitOptions.forward`).
 * Read as a session; only the expiry watch treats it apart (its lapse is no session's
 * expiry). A store of an older version does not know this kind and finds no entry there.
 */
export const FORWARD = 3

/** Separator between a session key and its sidecars, and inside index keys. */
export const SEP = '\0'

const HEADER = 9

/** A decoded envelope. */
export interface Envelope {
  /** `SESSION` or `MEMBER` (a forward opens as a `SESSION` with `forward` set). */
  kind: number
  expiry: number
  data: Uint8Array
  /** The session entry is a renewal's forward (kind `FORWARD`). */
  forward: boolean
}

/** Wrap `data` with its kind (`SESSION`, `FORWARD` or `MEMBER`) and exact expiry (ms since epoch). */
export function seal(kind: number, expiry: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.allocUnsafe(HEADER + data.length)
  out[0] = kind
  out.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(expiry))), 1)
  out.set(data, HEADER)
  return out
}

/** Read an envelope; `undefined` when the bytes are not one (foreign keys). */
export function open(value: Buffer): Envelope | undefined {
  const kind = value[0]
  if (value.length < HEADER || (kind !== SESSION && kind !== MEMBER && kind !== FORWARD)) return undefined
  return {
    kind: kind === FORWARD ? SESSION : kind,
    forward: kind === FORWARD,
    expiry: Number(value.readBigUInt64BE(1)),
    // A view, not a copy: the Buffer came fresh from the gRPC response.
    data: new Uint8Array(value.buffer, value.byteOffset + HEADER, value.length - HEADER),
  }
}

/** `key` as etcd bytes under the client's namespace prefix. Rejects NUL in `key`. */
export function toKey(namespace: Buffer, key: string, what = 'key'): Buffer {
  if (key.includes(SEP)) throw new ConfigError(`EtcdStore: argument ${what}: expected no NUL character (it separates etcd keys)`)
  return Buffer.concat([namespace, Buffer.from(key, 'utf8')])
}

/** The end of the range of every key starting with `prefix` (etcd's prefix rule). */
export function rangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.from([0]) // all keys from `prefix` on
}

/** The range `[key, key + "\x01")`: the session key and its NUL-separated sidecars. */
export function withSidecars(key: Buffer): { key: Buffer; range_end: Buffer } {
  return { key, range_end: Buffer.concat([key, Buffer.from([1])]) }
}

/** The version sidecar of a session key. */
export function versionKey(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from(`${SEP}v`)])
}

/** A fresh version token: 8 random bytes, as 16 hex digits. */
export function newVersion(): string {
  return secureRandom(8).toString('hex')
}

/** Version token string to its stored bytes; `undefined` when malformed. */
export function versionBytes(version: string): Buffer | undefined {
  return /^[0-9a-f]{16}$/.test(version) ? Buffer.from(version, 'hex') : undefined
}
