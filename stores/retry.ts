/**
 * The bounded retry window every networked store shares: a store call that failed
 * with an error its store calls retryable (the connection died, a failover is under
 * way) runs again after a pause — 50 ms, doubling to 500 ms — for as long as the
 * window, counted from the first attempt, lasts. The manager's `storeTimeout` still
 * bounds each request from outside.
 *
 * Whether running a call twice is safe is the caller's business: each store makes its
 * retried writes idempotent (a versioned commit recognises its own version, see
 * `attempt` below).
 */
import { MAX_TIMER_MS } from '../lib/config.js'
import { wholeNumber } from '../lib/options.js'

/** How a store retries. */
export interface RetryPolicy {
  /** ms from the first attempt during which a retryable failure is tried again; 0: never. */
  readonly window: number
  /** True for an error after which the same call may succeed. */
  readonly retryable: (err: unknown) => boolean
  /** Attempts made whatever the window says (the SQL stores always retry once). Default 0. */
  readonly always?: number
}

// Pauses between attempts: 50 ms, doubling, at most 500 ms.
const PAUSE = 50
const PAUSE_MAX = 500

/**
 * `call(0)`; when it rejects with an error `policy.retryable` accepts, `call(1)`,
 * `call(2)`… after growing pauses while the window lasts, counted from the first
 * attempt (the last one starts as the window closes, never after). Rejects with the
 * last attempt's error. `attempt` tells the call it is a retry, so a write whose
 * acknowledgement may have been lost can look for its own effect first.
 *
 * @example
 * ```ts
 * const value = await retrying((attempt) => client.get(key), { window: 4000, retryable: isTransient })
 * ```
 */
export async function retrying<T>(call: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const started = Date.now()
  const always = policy.always ?? 0
  let pause = PAUSE
  for (let attempt = 0; ; attempt++) {
    let left: number
    try {
      return await call(attempt)
    } catch (err) {
      left = policy.window - (Date.now() - started)
      if ((left <= 0 && attempt >= always) || !policy.retryable(err)) throw err
    }
    // The last pause is cut short so that the last attempt starts as the window closes.
    const wait = attempt < always ? pause : Math.min(pause, left)
    await new Promise((resolve) => setTimeout(resolve, wait))
    pause = Math.min(pause * 2, PAUSE_MAX)
  }
}

/** The `retryWindow` option of a store: whole ms from 0 to the longest timer. */
export const retryWindowOption = (fallback: number) =>
  wholeNumber(0, MAX_TIMER_MS, `a whole number of ms from 0 to ${MAX_TIMER_MS}`).default(fallback)
