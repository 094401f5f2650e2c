/**
 * Byte layout of the etcd store: the value envelope and the key helpers.
 *
 * Values are envelopes `[kind: 1 byte][expiry: uint64 ms, big-endian][data…]`, so the
 * exact expiry travels with the data and is enforced on read (a lease, shared by a
 * whole expiry bucket, only removes the key up to one bucket later).
 */

import { secureRandom } from '../lib/token.js'
import { ConfigError } from '../lib/errors.js'

/** Envelope kind of a session entry. */
export const SESSION = 1
/** Envelope kind of a user-index member (no data). */
export const MEMBER = 2

/** Separator between a session key and its sidecars, and inside index keys. */
export const SEP = '\0'

const HEADER = 9

/** A decoded envelope. */
export interface Envelope {
  kind: number
  expiry: number
  data: Uint8Array
}

/** Wrap `data` with its kind and exact expiry (ms since epoch). */
export function seal(kind: number, expiry: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.allocUnsafe(HEADER + data.length)
  out[0] = kind
  out.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(expiry))), 1)
  out.set(data, HEADER)
  return out
}

/** Read an envelope; `undefined` when the bytes are not one (foreign keys). */
export function open(value: Buffer): Envelope | undefined {
  if (value.length < HEADER || (value[0] !== SESSION && value[0] !== MEMBER)) return undefined
  return {
    kind: value[0],
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
