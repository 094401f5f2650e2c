/**
 * Which etcd failures the store retries inside its retry window (stores/retry.ts): the
 * ones a leader election, a killed member or a lost connection produce, after which the
 * same call can succeed a moment later. Judged by shape (class names and etcd's
 * messages), as etcd-leases.ts does, so the store needs no value import from etcd3.
 */

// gRPC UNAVAILABLE (no connection, member down) and DEADLINE_EXCEEDED (an attempt ran
// out of the store's `timeout`); cockatiel's open circuit breaker, which etcd3 puts in
// front of a host that kept failing.
const NAMES = new Set(['GRPCUnavailableError', 'GRPCDeadlineExceededError', 'BrokenCircuitError'])

// etcd's own answers while it has no leader or is electing one, and a member's answer
// when the attempt's deadline passed inside it during an election (gRPC UNKNOWN,
// "context deadline exceeded": 71 failed requests of one leader kill under load).
const MESSAGES =
  /etcdserver: (leader changed|no leader|request timed out|too many requests|server stopped|unhealthy cluster|not capable)|context deadline exceeded|No connection established|ECONNREFUSED|ECONNRESET/

/** True when `err`, from an etcd3 call, is one the same call can get past once etcd has a leader again. */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  return NAMES.has(err.name) || NAMES.has(err.constructor.name) || MESSAGES.test(err.message)
}
