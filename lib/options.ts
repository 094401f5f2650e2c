/**
 * One way to validate a constructor's options, for the manager and every store: a zod
 * schema, and on failure one `ConfigError` in one format —
 * `invalid <Owner> options: option <path>: <expected>; unknown option <name>`.
 */
import { z } from 'zod'
import { ConfigError } from './errors.js'

/**
 * `options` parsed by `schema` (defaults applied), or a `ConfigError` naming every bad
 * option and what was expected.
 *
 * @example
 * ```ts
 * const config = parseOptions('MemoryStore', memoryOptionsSchema, options)
 * ```
 */
export function parseOptions<S extends z.ZodType>(owner: string, schema: S, options: unknown): z.output<S> {
  const parsed = schema.safeParse(options ?? {})
  if (parsed.success) return parsed.data
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.')
    return issue.code === 'unrecognized_keys'
      ? `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => (path ? `${path}.${k}` : k)).join(', ')}`
      : `option ${path || '(options)'}: ${issue.message}`
  })
  throw new ConfigError(`invalid ${owner} options: ${problems.join('; ')}`)
}

/** The same format for a rule checked after parsing. */
export function optionError(owner: string, option: string, expected: string): ConfigError {
  return new ConfigError(`invalid ${owner} options: option ${option}: ${expected}`)
}

/**
 * A whole number from `min` to `max` (defaults to `fallback`), whose every failure says
 * `expected <what>`: the shape most numeric store options have.
 */
export function wholeOption(min: number, max: number, fallback: number, what = `a whole number from ${min} to ${max}`) {
  return wholeNumber(min, max, what).default(fallback)
}

/** A whole number from `min` to `max` with no default (left undefined when not given). */
export function wholeNumber(min: number, max: number, what = `a whole number from ${min} to ${max}`) {
  const error = `expected ${what}`
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error })
}

/** A function option (a clock, an error sink); failures say `expected a function`. */
export function functionOption<F>() {
  return z.custom<F>((f) => typeof f === 'function', { error: 'expected a function' })
}
