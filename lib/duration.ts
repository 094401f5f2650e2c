const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/

/**
 * Milliseconds in `value`: a number is taken as milliseconds, a string is a number and
 * one unit (`ms`, `s`, `m`, `h`, `d`, `w`), e.g. `'30m'`, `'24h'`, `'1.5h'`.
 * Resolves to `undefined` for anything else (the caller names the option in its error).
 *
 * @example
 * ```ts
 * parseDuration('30m') // 1_800_000
 * ```
 */
export function parseDuration(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined
  const match = PATTERN.exec(value.trim())
  if (match === null) return undefined
  const ms = Number(match[1]) * (UNITS[match[2] ?? ''] ?? Number.NaN)
  return Number.isFinite(ms) && ms > 0 ? Math.round(ms) : undefined
}
