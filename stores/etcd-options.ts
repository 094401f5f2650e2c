/**
 * Options of the etcd store, and their validation (a bad option throws `ConfigError`
 * at construction, naming the option and what was expected).
 */
import { ConfigError } from '../lib/errors.js'

/** Options of {@link EtcdStore}. */
export interface EtcdStoreOptions {
  /**
   * Width of an expiry bucket in ms: sessions whose expiries fall in one bucket share
   * one lease, granted to live until the bucket's end (expiry rounded up). A whole
   * number of seconds, 1 s to 1 day. Default 60 000.
   */
  leaseBucket?: number
  /** Keys per range request of `all()`. 1 to 10 000. Default 500. */
  pageSize?: number
  /**
   * Key prefix of the user index (inside the client's namespace). It must not be a
   * prefix the manager uses for sessions. Default `"\0users/"`: a leading NUL can never
   * start a session key, so the two never overlap.
   */
  userNamespace?: string
  /**
   * Deadline of every etcd call, in ms (covers the etcd3 client's own retries);
   * 0 leaves it to the client's options. Default 5000.
   */
  timeout?: number
  /** Clock for expiry decisions and lease TTLs, for tests. Default `Date.now`. */
  now?: () => number
}

/** Every option with its default applied. */
export type ResolvedEtcdOptions = Required<EtcdStoreOptions>

const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)

/** Apply defaults and check every option; throws `ConfigError` on the first bad one. */
export function validateOptions(options: EtcdStoreOptions): ResolvedEtcdOptions {
  const o = {
    leaseBucket: 60_000,
    pageSize: 500,
    userNamespace: '\0users/',
    timeout: 5000,
    now: Date.now,
    // An option given as `undefined` keeps its default.
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as ResolvedEtcdOptions
  const bad = (name: string, expected: string, got: unknown): never => {
    throw new ConfigError(`EtcdStore option \`${name}\` must be ${expected}, got ${String(got)}`)
  }
  if (!int(o.leaseBucket) || o.leaseBucket < 1000 || o.leaseBucket > 86_400_000 || o.leaseBucket % 1000 !== 0) {
    bad('leaseBucket', 'a whole number of seconds in ms, from 1000 to 86 400 000', o.leaseBucket)
  }
  if (!int(o.pageSize) || o.pageSize < 1 || o.pageSize > 10_000) {
    bad('pageSize', 'an integer from 1 to 10 000', o.pageSize)
  }
  if (typeof o.userNamespace !== 'string' || o.userNamespace === '') {
    bad('userNamespace', 'a non-empty string', o.userNamespace)
  }
  if (!int(o.timeout) || o.timeout < 0) bad('timeout', 'an integer number of ms >= 0', o.timeout)
  if (typeof o.now !== 'function') bad('now', 'a function returning ms since the epoch', o.now)
  return o
}
