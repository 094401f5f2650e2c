/**
 * Batched commands of {@link RedisStore} (`findMany`, `deleteMany`): MGET / UNLINK /
 * ZREM of many keys, in as few round trips as the deployment allows.
 *
 * A multi-key command is only valid on a Redis Cluster when all its keys share a hash
 * slot, and ioredis sends a pipeline to one node only. So keys are chunked by slot
 * (any chunk on a standalone or Sentinel server), and the chunks go out as one
 * pipeline per node: one round trip on a single server, one per primary on a Cluster,
 * all sent at once. Each command still touches one slot, as every script does.
 */
import type { ChainableCommander, Cluster } from 'ioredis'
import { aborted, shortfall, type RedisClient, type Wait } from './redis-scripts.js'

/** Most keys one MGET or UNLINK (or members one ZREM) carries. */
export const BATCH = 500

// CRC16/XMODEM (polynomial 0x1021), the hash Redis Cluster maps keys to slots with.
const TABLE = Uint16Array.from({ length: 256 }, (_, i) => {
  let c = i << 8
  for (let bit = 0; bit < 8; bit++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1
  return c & 0xffff
})

/**
 * The Cluster hash slot of `key`, as Redis computes it: CRC16 of the key (or of its
 * hash tag — the text between the first `{` and the next `}`, when not empty) mod 16384.
 */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key, 'utf8')
  const open = bytes.indexOf(0x7b)
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1)
    if (close > open + 1) bytes = bytes.subarray(open + 1, close)
  }
  let crc = 0
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ b) & 0xff] as number)
  return crc & 16383
}

/** `keys` in chunks of at most `size` that one command may carry: one slot each on a Cluster. */
export function slotChunks(client: RedisClient, keys: readonly string[], size = BATCH): string[][] {
  const bySlot = new Map<number, string[]>()
  for (const key of keys) {
    const slot = client.isCluster ? keySlot(key) : 0
    const list = bySlot.get(slot)
    if (list === undefined) bySlot.set(slot, [key])
    else list.push(key)
  }
  const out: string[][] = []
  for (const list of bySlot.values()) {
    for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size))
  }
  return out
}

/** One command of a batch: the key that routes it, and how to add it to a pipeline. */
export interface BatchCommand {
  key: string
  add(target: ChainableCommander): unknown
}

/**
 * Send `commands`, one pipeline per node (a single one on a standalone or Sentinel
 * client), all pipelines at once; each ends with WAIT when `wait` is given. Resolves
 * to the replies in command order; rejects with the first command's (client) error, a
 * `StoreError` (`ERR_STORE`) when ioredis answers with fewer replies than commands,
 * or one with `ERR_STORE_REPLICATION` when fewer replicas than asked acknowledged.
 */
export async function pipelined(
  client: RedisClient,
  operation: string,
  commands: readonly BatchCommand[],
  wait?: Wait,
): Promise<unknown[]> {
  const slots = client.isCluster ? (client as Cluster).slots : undefined
  const groups = new Map<string, number[]>()
  commands.forEach((command, i) => {
    let group = ''
    if (slots !== undefined) {
      const slot = keySlot(command.key)
      // Slots served by the same nodes may share a pipeline (ioredis checks exactly this).
      group = slots[slot]?.join(',') ?? `slot ${slot}`
    }
    const list = groups.get(group)
    if (list === undefined) groups.set(group, [i])
    else list.push(i)
  })
  const replies: unknown[] = new Array(commands.length)
  await Promise.all(
    [...groups.values()].map(async (indices) => {
      const pipeline = client.pipeline()
      for (const i of indices) commands[i]?.add(pipeline)
      if (wait !== undefined) pipeline.wait(wait.replicas, wait.timeout)
      batchReplies(await pipeline.exec(), indices, replies, operation, wait)
    }),
  )
  return replies
}

/**
 * Spread one pipeline's `exec()` results over `replies` (at the commands' `indices`),
 * throwing as {@link pipelined} rejects.
 */
export function batchReplies(
  results: [Error | null, unknown][] | null,
  indices: readonly number[],
  replies: unknown[],
  operation: string,
  wait?: Wait,
): void {
  const expected = indices.length + (wait === undefined ? 0 : 1)
  if (results === null || results.length < expected) throw aborted(operation)
  indices.forEach((i, j) => {
    const [err, value] = results[j] as [Error | null, unknown]
    if (err) throw err
    replies[i] = value
  })
  if (wait === undefined) return
  const [err, acked] = results[indices.length] as [Error | null, unknown]
  if (err) throw err
  const short = shortfall(operation, acked, wait, 'the deletes')
  if (short !== undefined) throw short
}
