/**
 * fast-check settings for test/fuzz: thousands of runs per property, and a failing run
 * replayable. On failure fast-check prints `seed` and `path`; replay with
 *   FC_SEED=<seed> FC_PATH=<path> npx tap test/fuzz/<file>.test.ts
 * FC_RUNS overrides the number of runs.
 */
import fc from 'fast-check'

/** Options for `fc.assert`: `runs` by default, or the replayed seed and path (read at each call). */
export function fuzz(runs: number): fc.Parameters<unknown> {
  const seed = process.env.FC_SEED
  const path = process.env.FC_PATH
  return {
    numRuns: Number(process.env.FC_RUNS ?? runs),
    ...(seed !== undefined ? { seed: Number(seed) } : {}),
    ...(path !== undefined ? { path } : {}),
    verbose: 1,
  }
}

/** The runs a property makes: `runs`, or FC_RUNS when set (for pass messages that tell the truth). */
export function runs(n: number): number {
  return Number(process.env.FC_RUNS ?? n)
}

/** A logger that keeps fuzzed failures (logged by design) off the test output. */
export const quiet = { warn() {}, error() {} }

/** The request info `manager.attach` takes, from a Cookie and an Authorization header. */
export const request = (cookie: string | undefined, authorization?: string) => ({
  cookie,
  authorization,
  forwardedProto: undefined,
  encrypted: false,
})

/** `value` with one bit flipped (over its latin1 bytes), a truncation, or `extra` spellings of it. */
export function tamperings(value: string, extra: fc.Arbitrary<string>[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    fc.nat({ max: value.length * 8 - 1 }).map((bit) => {
      const bytes = Buffer.from(value, 'latin1')
      bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) ^ (1 << (bit & 7))
      return bytes.toString('latin1')
    }),
    fc.nat({ max: value.length - 1 }).map((n) => value.slice(0, n)),
    ...extra,
  )
}
