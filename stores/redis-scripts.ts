/**
 * The Lua scripts of {@link RedisStore} and how they are sent. Each script touches
 * exactly one key, so it is atomic on that key and valid on a Redis Cluster without
 * hash tags (no multi-key command exists anywhere in the store) — except a forward's
 * COMMIT, which also writes the forward's marker, named to be in the key's slot
 * (redis-forward.ts).
 *
 * Session entry: a string `version (8 bytes) | expiry ms (8 bytes, float64 BE) | data`
 * expiring at the expiry (SET … PXAT, Redis 6.2+), so one GET reads all three. User index: a sorted set
 * of session keys scored by their expiry (ms), itself expiring with its last member.
 */
import { createHash } from 'node:crypto'
import type { ChainableCommander, Cluster, Redis } from 'ioredis'
import { StoreError } from '../lib/errors.js'

/** A Lua script and its SHA1, the name Redis caches it under. */
export interface Script {
  readonly lua: string
  readonly sha: string
}

const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') })

/**
 * Write an entry. ARGV: value (header + data), expiry ms, mode, expected version.
 * Mode `set` writes unconditionally; `new` only when the key is absent; `if` only
 * when the stored version (the first 8 bytes, read by GETRANGE without copying the
 * data) equals the expected one. Replies 1, or nil on conflict. Redis itself drops
 * expired keys, so "absent" includes "expired". A stored version equal to the one
 * being written (the value's first 8 bytes, new and random for every commit) means an
 * earlier attempt of this very commit landed and only its reply was lost: the script
 * writes the same value again (so a WAIT after it covers the write) and replies 1. A
 * forward's commit passes its marker as KEYS[2] and the marker's expiry ms as ARGV[5]:
 * written only when the entry is.
 */
export const COMMIT = script(`
if ARGV[3] ~= 'set' then
  local current = redis.call('GETRANGE', KEYS[1], 0, 7)
  if current ~= string.sub(ARGV[1], 1, 8) then
    if ARGV[3] == 'new' and current ~= '' then return false end
    if ARGV[3] == 'if' and current ~= ARGV[4] then return false end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
if KEYS[2] then redis.call('SET', KEYS[2], '1', 'PXAT', ARGV[5]) end
return 1
`)

/** Move a live entry's expiry (ARGV: 8-byte header expiry, expiry ms); never creates, keeps the version. */
export const TOUCH = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SETRANGE', KEYS[1], 8, ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`)

/** Add a member to a user index (ARGV: expiry ms, session key); the set lives as long as its last member. */
export const ADD_USER = script(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
`)

/** Prune members whose expiry is at or before ARGV[1] (now, ms), then list the rest. */
export const LIST_USER = script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

/** An ioredis client: standalone or Sentinel-configured `Redis`, or `Cluster`. */
export type RedisClient = Redis | Cluster

/** WAIT after a write: how many replicas must acknowledge it, within how many ms. */
export interface Wait {
  replicas: number
  timeout: number
}

type Arg = string | Buffer

/** The name errors of the Redis helpers carry (`RedisStore.name`). */
const STORE = 'RedisStore'

/** `ERR_STORE`: ioredis answered a pipeline with fewer replies than commands sent. */
export function aborted(operation: string): StoreError {
  return new StoreError(STORE, operation, { detail: 'Redis pipeline aborted (fewer replies than commands)' })
}

/**
 * `ERR_STORE_REPLICATION` when WAIT's reply `acked` is under `wait.replicas`: the
 * primary has the write, a failover may lose it. Undefined when enough acknowledged.
 */
export function shortfall(operation: string, acked: unknown, wait: Wait, what = 'the write'): StoreError | undefined {
  const n = Number(acked)
  if (n >= wait.replicas) return undefined
  return new StoreError(STORE, operation, {
    code: 'ERR_STORE_REPLICATION',
    detail:
      `Redis WAIT: ${String(acked)} of ${wait.replicas} replica(s) acknowledged ${what} within ` +
      `${wait.timeout} ms (the primary has it; it may be lost on failover)`,
  })
}

/**
 * The reply of `command` from a pipeline's `exec()` results that ended with WAIT:
 * rejects with the command's own (client) error, `ERR_STORE` when a reply is missing,
 * `ERR_STORE_REPLICATION` when fewer replicas than asked acknowledged a write.
 */
export function waited(results: [Error | null, unknown][] | null, wait: Wait, operation: string): unknown {
  const [command, acked] = results ?? []
  if (command === undefined || acked === undefined) throw aborted(operation)
  if (command[0]) throw command[0]
  if (acked[0]) throw acked[0]
  // A conflict (nil reply) wrote nothing, so there is nothing to lose either.
  if (command[1] === null) return null
  const short = shortfall(operation, acked[1], wait)
  if (short !== undefined) throw short
  return command[1]
}

/**
 * Send one command built by `add`, followed by WAIT on the same connection in the
 * same round trip when `wait` is given (a Cluster pipeline goes to the node owning
 * the command's key, so WAIT counts that node's replicas). Resolves to the command's
 * reply; rejects with a `StoreError` (`ERR_STORE_REPLICATION`) when fewer replicas
 * than asked acknowledged the write.
 */
export async function send(
  client: RedisClient,
  add: (target: ChainableCommander) => unknown,
  wait: Wait | undefined,
  operation: string,
): Promise<unknown> {
  if (wait === undefined) return add(client as unknown as ChainableCommander)
  const pipeline = client.pipeline()
  add(pipeline)
  pipeline.wait(wait.replicas, wait.timeout)
  return waited(await pipeline.exec(), wait, operation)
}

/** Redis' answer to EVALSHA of a script it has not cached. */
export const isNoScript = (err: unknown): boolean => err instanceof Error && err.message.startsWith('NOSCRIPT')

/**
 * Run `script` on `key` (or on several keys of one slot) by EVALSHA; a server that
 * does not have it cached yet (first call, restart, failover, another Cluster node)
 * gets it once by EVAL.
 */
export async function run(
  client: RedisClient,
  lua: Script,
  key: string | readonly string[],
  args: Arg[],
  operation: string,
  wait?: Wait,
): Promise<unknown> {
  const keys = typeof key === 'string' ? [key] : key
  try {
    return await send(client, (c) => c.evalsha(lua.sha, keys.length, ...keys, ...args), wait, operation)
  } catch (err) {
    if (!isNoScript(err)) throw err
    return send(client, (c) => c.eval(lua.lua, keys.length, ...keys, ...args), wait, operation)
  }
}
