import { z } from 'zod'
import { MAX_TIMER_MS } from '../lib/config.js'
import { parseOptions } from '../lib/options.js'

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** How often expired entries are swept, in ms (at most 2^31 - 1). Default 60 000; 0 disables the timer. */
  sweepInterval?: number
  /**
   * Most entries kept (a whole number >= 1). When full, expired entries go first, then
   * the least recently used (read or written) entry is evicted. Default 100 000.
   */
  maxEntries?: number
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number
}

const schema = z.strictObject({
  sweepInterval: z
    .number({ error: `expected a whole number of ms from 0 to ${MAX_TIMER_MS}` })
    .int({ error: `expected a whole number of ms from 0 to ${MAX_TIMER_MS}` })
    .min(0, { error: `expected a whole number of ms from 0 to ${MAX_TIMER_MS}` })
    .max(MAX_TIMER_MS, { error: `expected a whole number of ms from 0 to ${MAX_TIMER_MS}` })
    .default(60_000),
  maxEntries: z
    .number({ error: 'expected a whole number >= 1' })
    .int({ error: 'expected a whole number >= 1' })
    .min(1, { error: 'expected a whole number >= 1' })
    .max(2 ** 32, { error: `expected a whole number <= ${2 ** 32}` })
    .default(100_000),
  now: z.custom<() => number>((f) => typeof f === 'function', { error: 'expected a function' }).default(() => Date.now),
})

/** MemoryStore options validated, defaults applied; `ConfigError` otherwise. */
export function resolveMemoryOptions(options: unknown): z.output<typeof schema> {
  return parseOptions('MemoryStore', schema, options)
}
