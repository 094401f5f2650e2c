/**
 * Options of the etcd store, and their validation (a bad option throws `ConfigError`
 * at construction, naming the option and what was expected).
 */
import { z } from 'zod'
import { MAX_TIMER_MS } from '../lib/config.js'
import { functionOption, parseOptions, wholeNumber, wholeOption } from '../lib/options.js'
import { retryWindowOption } from './retry.js'

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
   * Deadline of each attempt of an etcd call, in ms (covers the etcd3 client's own
   * retries); 0 leaves it to the client's options. Default 1500: an attempt stuck on a
   * member during a leader election gives up and is retried inside `retryWindow`
   * (with 3000, the stuck attempts' deadlines opened every live member's circuit
   * breaker at once and requests failed; docs/operations.md).
   */
  timeout?: number
  /**
   * ms, from the first attempt, during which a call that failed the way a leader
   * election or a lost member makes calls fail (gRPC `UNAVAILABLE` or
   * `DEADLINE_EXCEEDED`, "leader changed", "no leader", "request timed out", an open
   * circuit breaker) is made again, after pauses of 50 ms doubling to 500 ms; 0: never.
   * A retried versioned commit recognises its own version, so a commit whose answer
   * was lost is applied once and not reported as a conflict. Keep it under the
   * manager's `storeTimeout`, which still bounds each request. Default 4000. `all()`
   * retries each page.
   */
  retryWindow?: number
  /** Clock for expiry decisions and lease TTLs, for tests. Default `Date.now`. */
  now?: () => number
}

/** Every option with its default applied. */
export type ResolvedEtcdOptions = Required<EtcdStoreOptions>

const schema = z.strictObject({
  leaseBucket: wholeNumber(1000, 86_400_000, 'a whole number of seconds in ms, from 1000 to 86400000')
    .refine((v) => v % 1000 === 0, { error: 'expected a whole number of seconds in ms, from 1000 to 86400000' })
    .default(60_000),
  pageSize: wholeOption(1, 10_000, 500),
  userNamespace: z.string({ error: 'expected a non-empty string' }).min(1, { error: 'expected a non-empty string' }).default('\0users/'),
  timeout: wholeOption(0, MAX_TIMER_MS, 1500, `a whole number of ms from 0 to ${MAX_TIMER_MS}`),
  retryWindow: retryWindowOption(4000),
  now: functionOption<() => number>().default(() => Date.now),
})

/** Apply defaults and check every option; throws `ConfigError` naming every bad one. */
export function validateOptions(options: EtcdStoreOptions): ResolvedEtcdOptions {
  return parseOptions('EtcdStore', schema, options)
}
