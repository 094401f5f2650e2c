import { createHash, randomBytes } from 'node:crypto'

/** Length of a token: 32 random bytes in base64url, without padding. */
export const TOKEN_LENGTH = 43

const SHAPE = /^[A-Za-z0-9_-]{43}$/

/**
 * A new session token: 256 bits from the OS CSPRNG, base64url.
 * (OWASP Session Management Cheat Sheet: session ID entropy of at least 64 bits.)
 */
export function generateToken(): string {
  return secureRandom(32).toString('base64url')
}

const POOL_SIZE = 4096
let pool = Buffer.alloc(0)
let offset = 0

/**
 * `n` bytes from the OS CSPRNG, drawn from a pool refilled 4 KiB at a time (as Node's
 * own `randomUUID` does): one `randomBytes` call costs a few microseconds whatever its
 * size, which was a measurable part of a commit. Each caller gets its own copy.
 */
export function secureRandom(n: number): Buffer {
  if (n > POOL_SIZE) return randomBytes(n)
  if (offset + n > pool.length) {
    pool = randomBytes(POOL_SIZE)
    offset = 0
  }
  const out = Buffer.from(pool.subarray(offset, offset + n))
  // Used bytes are wiped, so the pool never holds a token that was handed out.
  pool.fill(0, offset, offset + n)
  offset += n
  return out
}

/**
 * True when `value` has the exact shape of a token. Anything else is "no session"
 * and never reaches the store, so junk cookies cost nothing.
 */
export function isToken(value: string | undefined): value is string {
  return value !== undefined && value.length === TOKEN_LENGTH && SHAPE.test(value)
}

/** sha256 of the token, base64url: the store key when `hashTokenInStore` is on. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}
