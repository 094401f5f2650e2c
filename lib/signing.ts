import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { ConfigError } from './errors.js'

/** A signing key: 32+ random bytes, as bytes or text; an optional explicit key id. */
export type SigningKey = string | Uint8Array | { id: string; key: string | Uint8Array }

const MIN_BYTES = 32
const MIN_DISTINCT = 10

/** One key entry, checked with a message that says what is wrong with it. */
const keyEntry = z.unknown().transform((value, ctx) => {
  const fail = (message: string) => {
    ctx.addIssue({ code: 'custom', message })
    return z.NEVER
  }
  let id: string | undefined
  let raw: unknown = value
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const entry = value as { id?: unknown; key?: unknown }
    if (typeof entry.id !== 'string' || !/^[A-Za-z0-9_-]{1,16}$/.test(entry.id)) {
      return fail('expected a key id of 1-16 base64url characters')
    }
    id = entry.id
    raw = entry.key
  }
  const key = typeof raw === 'string' ? new Uint8Array(Buffer.from(raw, 'utf8')) : raw instanceof Uint8Array ? raw : undefined
  if (key === undefined) return fail(`expected a string or Uint8Array of at least ${MIN_BYTES} bytes`)
  if (key.length < MIN_BYTES) return fail(`a key must have at least ${MIN_BYTES} bytes, got ${key.length}`)
  if (new Set(key).size < MIN_DISTINCT) return fail('a key must be random, not a repeated pattern')
  return { id: id ?? keyId(key), key }
})

/** zod schema of the `signingKeys` option: a non-empty list; the first signs, all verify. */
export const signingKeysSchema = z
  .array(keyEntry, { error: 'expected a list of keys' })
  .min(1, { error: 'expected at least one key' })

/** Default key id: derived from the key, so rotation needs no bookkeeping. */
function keyId(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 8)
}

/**
 * Signs tokens for the cookie (`token.kid.mac`, HMAC-SHA256) and checks them before
 * any store call, so forged or tampered cookies cost the store nothing. Keys rotate:
 * the first signs, every listed key verifies, a removed key's cookies are no session.
 * (OWASP Session Management Cheat Sheet: integrity of the session ID exchange.)
 */
export class Signer {
  readonly #keys: ReadonlyMap<string, Uint8Array>
  readonly #current: { id: string; key: Uint8Array }

  constructor(keys: Array<{ id: string; key: Uint8Array }>) {
    this.#keys = new Map(keys.map((k) => [k.id, k.key]))
    const first = keys[0]
    if (first === undefined) throw new ConfigError('Signer: option keys: expected at least one signing key')
    this.#current = first
  }

  /** `token.kid.mac` with the current key. */
  sign(token: string): string {
    return `${token}.${this.#current.id}.${mac(this.#current.key, token)}`
  }

  /** The token inside a signed value, or undefined when it does not verify. */
  verify(value: string): string | undefined {
    const last = value.lastIndexOf('.')
    const middle = value.lastIndexOf('.', last - 1)
    if (middle <= 0) return undefined
    const key = this.#keys.get(value.slice(middle + 1, last))
    if (key === undefined) return undefined
    const token = value.slice(0, middle)
    const given = Buffer.from(value.slice(last + 1))
    const expected = Buffer.from(mac(key, token))
    return given.length === expected.length && timingSafeEqual(given, expected) ? token : undefined
  }
}

function mac(key: Uint8Array, token: string): string {
  return createHmac('sha256', key).update(token).digest('base64url')
}
