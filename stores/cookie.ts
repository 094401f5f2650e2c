import { createCipheriv, createDecipheriv, createHash } from 'node:crypto'
import { z } from 'zod'
import { parseOptions } from '../lib/options.js'
import { SessionError } from '../lib/errors.js'
import type { SealingStore } from '../lib/store.js'
import { secureRandom } from '../lib/token.js'

/** A 32-byte key: bytes, or base64url/base64/hex text of 32 bytes. */
export type CookieKey = Uint8Array | string

/** Options of {@link CookieStore}. */
export interface CookieStoreOptions {
  /** 32-byte secrets. The first seals; every one opens, so keys rotate without logouts. */
  keys: CookieKey[]
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number
}

function toBytes(key: CookieKey): Uint8Array | undefined {
  if (key instanceof Uint8Array) return key
  for (const encoding of ['base64url', 'base64', 'hex'] as const) {
    const bytes = Buffer.from(key, encoding)
    if (bytes.length === 32 && bytes.toString(encoding).replace(/=+$/, '') === key.replace(/=+$/, '')) {
      return new Uint8Array(bytes)
    }
  }
  return undefined
}

const keySchema = z
  .custom<CookieKey>((k) => typeof k === 'string' || k instanceof Uint8Array, {
    error: 'expected 32 bytes, as a Uint8Array or base64url, base64 or hex text',
  })
  .transform((k, ctx) => {
    const bytes = toBytes(k)
    if (bytes === undefined || bytes.length !== 32) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly 32 bytes (256 bits), as a Uint8Array or base64url, base64 or hex text' })
      return z.NEVER
    }
    if (new Set(bytes).size < 10) {
      ctx.addIssue({ code: 'custom', message: 'a key must be random, not a repeated pattern' })
      return z.NEVER
    }
    return bytes
  })

const optionsSchema = z.strictObject({
  keys: z.array(keySchema, { error: 'expected a list of 32-byte keys' }).min(1, { error: 'expected at least one key' }),
  now: z.custom<() => number>((f) => typeof f === 'function', { error: 'expected a function' }).default(() => Date.now),
})

const IV_BYTES = 12
const TAG_BYTES = 16
const B64URL = /^[A-Za-z0-9_-]*$/

const b64 = (v: string | Uint8Array): string => Buffer.from(v).toString('base64url')

/** Strict base64url: anything else (padding, `+`, `/`, spaces) is a tampered cookie. */
/** Canonical base64url only: a value whose unused trailing bits differ is not the one sealed. */
const unb64 = (v: string): Buffer | undefined => {
  if (!B64URL.test(v)) return undefined
  const bytes = Buffer.from(v, 'base64url')
  return bytes.toString('base64url') === v ? bytes : undefined
}

/**
 * The protected header, as RFC 7516 wants it read: exactly `dir` + `A256GCM`, no
 * compression and no critical extensions this code does not understand.
 */
function readHeader(encoded: string): { kid: string; exp: number } | undefined {
  const json = unb64(encoded)
  if (json === undefined || json.length > 256) return undefined
  let h: Record<string, unknown>
  try {
    h = JSON.parse(json.toString('utf8')) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (typeof h !== 'object' || h === null || h.alg !== 'dir' || h.enc !== 'A256GCM') return undefined
  if (h.zip !== undefined || h.crit !== undefined) return undefined
  if (typeof h.kid !== 'string' || typeof h.exp !== 'number') return undefined
  return { kid: h.kid, exp: h.exp }
}

/**
 * Stateless sessions: the encoded session travels sealed in the cookie itself, as a
 * compact JWE (RFC 7516, `dir` + `A256GCM`: authenticated encryption, so it is both
 * secret and tamper-proof) with a key id. Sealed and opened with node:crypto's
 * AES-256-GCM directly (jose reads and writes the same tokens; the tests check both
 * ways), which is several times cheaper per request than going through WebCrypto. Keys rotate: put a new key first, keep the old ones
 * until their cookies expire, then drop them. The expiry is sealed inside the
 * protected header and enforced on open, whatever the browser keeps sending.
 *
 * What cannot hold without server state is refused: revoking a session before it
 * expires, the user index (`sessionsOf`, `revokeUser`, `singleSession`) and
 * `iterate`. See docs/security.md.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto'
 * const store = new CookieStore({ keys: [process.env.SESSION_KEY ?? randomBytes(32)] })
 * const sessions = new SessionManager({ store, lifetime: '7d' })
 * ```
 */
export class CookieStore implements SealingStore {
  readonly name = 'CookieStore'
  readonly sealing = true
  readonly #keys: ReadonlyMap<string, Uint8Array>
  readonly #current: { kid: string; key: Uint8Array }
  readonly #now: () => number

  constructor(options: CookieStoreOptions) {
    const parsed = { data: parseOptions('CookieStore', optionsSchema, options) }
    const keys = parsed.data.keys.map((key) => ({ kid: createHash('sha256').update(key).digest('base64url').slice(0, 8), key }))
    this.#keys = new Map(keys.map((k) => [k.kid, k.key]))
    this.#current = keys[0] as { kid: string; key: Uint8Array }
    this.#now = parsed.data.now
  }

  async seal(data: Uint8Array, expiry: Date): Promise<string> {
    const header = b64(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: this.#current.kid, exp: expiry.getTime() }))
    const iv = secureRandom(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, iv)
    cipher.setAAD(Buffer.from(header, 'ascii'))
    const ciphertext = Buffer.concat([cipher.update(data), cipher.final()])
    return `${header}..${b64(iv)}.${b64(ciphertext)}.${b64(cipher.getAuthTag())}`
  }

  async open(value: string): Promise<Uint8Array | undefined> {
    const parts = value.split('.')
    if (parts.length !== 5 || parts[1] !== '') return undefined
    const [header = '', , iv = '', ciphertext = '', tag = ''] = parts
    const fields = readHeader(header)
    if (fields === undefined) return undefined
    const key = this.#keys.get(fields.kid)
    if (key === undefined) return undefined
    const ivBytes = unb64(iv)
    const tagBytes = unb64(tag)
    const data = unb64(ciphertext)
    if (ivBytes?.length !== IV_BYTES || tagBytes?.length !== TAG_BYTES || data === undefined) return undefined
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, ivBytes, { authTagLength: TAG_BYTES })
      decipher.setAAD(Buffer.from(header, 'ascii'))
      decipher.setAuthTag(tagBytes)
      const plaintext = Buffer.concat([decipher.update(data), decipher.final()])
      return fields.exp > this.#now() ? new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength) : undefined
    } catch {
      // Tampered, truncated, or sealed with another key under a colliding id.
      return undefined
    }
  }

  /** Opens `key` as a sealed value (the cookie store's keys are its cookies). */
  find(key: string): Promise<Uint8Array | undefined> {
    return this.open(key)
  }

  /** Refused: a cookie store is written through the manager, which seals into the cookie. */
  async commit(): Promise<void> {
    throw new SessionError('ERR_UNSUPPORTED', 'CookieStore keeps sessions in the cookie: commit through a SessionManager')
  }

  /** Nothing is kept server-side: a sealed cookie cannot be revoked, only expired in the browser. */
  async delete(): Promise<void> {}
}
