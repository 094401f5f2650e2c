/**
 * The configured `schema` at the door: a value it rejects is refused when it is put
 * (or computed by `update`), with a {@link SchemaError} the handler can answer 400 to,
 * so a stored session never becomes unreadable through the API.
 */
import { z } from 'zod'
import { SchemaError } from './errors.js'

/** Throws `SchemaError` when `value` may not be stored at `key` next to `values`. */
export type ValueGuard = (key: string, value: unknown, values: ReadonlyMap<string, unknown>) => void

/**
 * A guard for `schema`. An object schema checks the one key's own field (cheap, and
 * what the handler means); a key it does not name, or any other kind of schema
 * (records, unions, refinements), is checked as the whole session would be on load.
 */
export function schemaGuard(schema: z.ZodType): ValueGuard {
  const shape = schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : undefined
  return (key, value, values) => {
    const field = shape !== undefined && Object.hasOwn(shape, key) ? shape[key] : undefined
    const check = field !== undefined
      ? field.safeParse(value)
      : schema.safeParse(Object.fromEntries([...values, [key, value]]))
    if (!check.success) throw new SchemaError(key, check.error)
  }
}
