/**
 * Which Redis failures the store retries inside its retry window (stores/retry.ts):
 * the ones a failover, a restart or a resharding produce, after which the same command
 * can succeed a moment later.
 */

// Replies of a server that cannot serve the command yet: a demoted primary (READONLY),
// one loading its data (LOADING), a replica whose primary is gone (MASTERDOWN), a
// primary short of the replicas min-replicas-to-write asks for (NOREPLICAS), a Cluster
// mid-failover or mid-migration (CLUSTERDOWN, TRYAGAIN; MOVED and ASK are followed by
// ioredis itself and only reach here when its redirections ran out).
const REPLIES = /^(READONLY|LOADING|MASTERDOWN|NOREPLICAS|CLUSTERDOWN|TRYAGAIN|MOVED|ASK)\b/

// ioredis' own failures while it has no usable connection: the command's connection
// closed under it, it gave up after maxRetriesPerRequest reconnections, the command
// got no answer within commandTimeout, the offline queue is off, no sentinel or
// cluster node answered, a Cluster lost its node or primary for the key, or the slot
// map could not be refreshed.
const CLIENT = new RegExp(
  '^(' +
    [
      'Connection is closed',
      'Reached the max retries per request limit',
      'Command timed out',
      'Socket timeout',
      'connect ETIMEDOUT',
      "Stream isn't writeable",
      'All sentinels are unreachable',
      "Cluster isn't ready",
      'Cluster is disconnected',
      'Node is disconnected',
      'No master node is available',
      'None of startup nodes is available',
      'Failed to refresh slots cache',
      'Too many Cluster redirections',
    ].join('|') +
    ')',
)

// Socket errors a command can carry when its connection failed.
const SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN'])

/**
 * True when `err`, from an ioredis command, is one the same command can get past once
 * Redis is reachable again: never for a script or type error, a conflict, or a WAIT
 * shortfall (`ERR_STORE_REPLICATION`: the write is on the primary already).
 */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && SOCKET.has(code)) return true
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'ClusterAllFailedError') return true
  return REPLIES.test(err.message) || CLIENT.test(err.message)
}
