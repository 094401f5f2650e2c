/**
 * ioredis client options recommended with {@link RedisStore}. ioredis's defaults
 * retry a command up to 20 reconnections and have no command timeout, so a request
 * can hang for a long time while Redis is down; these make every command settle
 * within about `commandTimeout` ms, and the same client recover by itself once Redis
 * is back. Plain objects: spread them into your own options.
 */
import type { ClusterOptions, RedisOptions } from 'ioredis'

// Reconnect quickly: the first retries after 100, 200, 400 ms, then every second.
const retry = (times: number) => Math.min(50 * 2 ** times, 1000)
// After a Sentinel failover a connection may still reach the demoted primary, now a
// read-only replica: reconnect (asking the sentinels again) and resend the command.
const readonly = (err: Error) => (err.message.startsWith('READONLY') ? 2 : false)

/**
 * For a standalone `Redis`: connect within 2 s, reject any command after 2 s
 * (queued while disconnected or sent and unanswered), give up on a command after one
 * reconnection, reconnect at most every second, and reconnect on READONLY.
 *
 * @example
 * ```ts
 * const client = new Redis({ host: '127.0.0.1', port: 6379, ...redisClientOptions })
 * ```
 */
export const redisClientOptions = Object.freeze({
  connectTimeout: 2000,
  commandTimeout: 2000,
  maxRetriesPerRequest: 1,
  // Keep the offline queue: a command issued while reconnecting (a failover) waits
  // for the new connection, still bounded by commandTimeout.
  enableOfflineQueue: true,
  retryStrategy: retry,
  reconnectOnError: readonly,
} satisfies RedisOptions)

/**
 * For a Sentinel-configured `Redis` (`{ sentinels, name, ...sentinelClientOptions }`):
 * the standalone options, plus `failoverDetector` (ioredis subscribes to the
 * sentinels' `+switch-master` and moves to the new primary at once instead of waiting
 * for its connection to break) and bounded sentinel queries.
 *
 * @example
 * ```ts
 * const client = new Redis({ sentinels: [{ host: '10.0.0.1', port: 26379 }], name: 'sessions', ...sentinelClientOptions })
 * ```
 */
export const sentinelClientOptions = Object.freeze({
  ...redisClientOptions,
  failoverDetector: true,
  sentinelCommandTimeout: 1000,
  sentinelRetryStrategy: (times: number) => Math.min(times * 100, 1000),
} satisfies RedisOptions)

/**
 * For a `Cluster` (`new Cluster(nodes, clusterClientOptions)`): each node connection
 * gets the standalone options; slot-map refreshes and MOVED/failover retries are
 * bounded too.
 *
 * @example
 * ```ts
 * const client = new Cluster([{ host: '10.0.0.1', port: 7000 }], clusterClientOptions)
 * ```
 */
export const clusterClientOptions = Object.freeze({
  redisOptions: redisClientOptions,
  clusterRetryStrategy: retry,
  retryDelayOnFailover: 200,
  retryDelayOnClusterDown: 200,
  slotsRefreshTimeout: 2000,
  maxRedirections: 8,
} satisfies ClusterOptions)
