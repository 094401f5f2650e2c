/**
 * Forward markers of {@link RedisStore}: a keyspace notification carries only the
 * name of the key that expired, so the store cannot tell a renewal's forward from a
 * session by the event alone. A forward commit (`CommitOptions.forward`) therefore
 * writes, in the same COMMIT script, a marker key next to it that outlives it; the
 * expiry watcher deletes the marker of each expired key, and a marker that was there
 * (DEL replies 1) means the key was a forward, not reported.
 *
 * The marker is in the same Cluster hash slot as its key (one script may touch only
 * one slot): `key + ':fwd'` when the key has a hash tag, `{key}:fwd` otherwise, and
 * for the rare key that has a `}` but no hash tag, `{t<n>}:fwd:key` with the first
 * `t<n>` of the key's slot.
 */
import { keySlot } from './redis-batch.js'

/** How long a marker outlives its forward, in ms: the watcher's DEL must still find it. */
export const MARKER_MS = 10 * 60_000

const SUFFIX = ':fwd'

/** Whether `key` has a hash tag by Redis' rule: a `{`, then the next `}`, something between. */
function hasHashTag(key: string): boolean {
  const open = key.indexOf('{')
  if (open === -1) return false
  const close = key.indexOf('}', open + 1)
  return close > open + 1
}

// Slot -> the first tag `t<n>` hashing to it (computed once per slot, about 16,000 CRCs).
const tags = new Map<number, string>()
function tagOf(slot: number): string {
  let tag = tags.get(slot)
  for (let n = 0; tag === undefined; n++) if (keySlot(`t${n}`) === slot) tag = `t${n}`
  tags.set(slot, tag)
  return tag
}

/** The marker key of the forward at `key` (a full Redis key), in `key`'s hash slot. */
export function forwardMarker(key: string): string {
  if (hasHashTag(key)) return key + SUFFIX
  // `{key}` is a hash tag of the whole key unless the key itself holds a `}`.
  if (!key.includes('}')) return `{${key}}${SUFFIX}`
  return `{${tagOf(keySlot(key))}}${SUFFIX}:${key}`
}

/** Whether `name` is the name of some key's forward marker (never a session). */
export function isForwardMarker(name: string): boolean {
  if (name.endsWith(SUFFIX)) {
    const base = name.slice(0, -SUFFIX.length)
    if (hasHashTag(base) && forwardMarker(base) === name) return true
    if (base.startsWith('{') && base.endsWith('}') && forwardMarker(base.slice(1, -1)) === name) return true
  }
  const fallback = /^\{t\d+\}:fwd:/.exec(name)
  return fallback !== null && forwardMarker(name.slice(fallback[0].length)) === name
}
