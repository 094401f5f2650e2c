import { createHash, randomBytes } from 'node:crypto'

/** Length of a token: 32 random bytes in base64url, without padding. */
export const TOKEN_LENGTH = 43

const SHAPE = /^[A-Za-z0-9_-]{43}$/

/**
 * A new session token: 256 bits from the OS CSPRNG, base64url.
 * (OWASP Session Management Cheat Sheet: session ID entropy of at least 64 bits.)
 */
export function generateToken(): string {
  return randomBytes(32).toString('base64url')
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
