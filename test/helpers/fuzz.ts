/**
 * fast-check settings for test/fuzz: thousands of runs per property, and a failing run
 * replayable. On failure fast-check prints `seed` and `path`; replay with
 *   FC_SEED=<seed> FC_PATH=<path> npx tap test/fuzz/<file>.test.ts
 * FC_RUNS overrides the number of runs.
 */
import fc from 'fast-check'

const seed = process.env.FC_SEED
const path = process.env.FC_PATH

/** Options for `fc.assert`: `runs` by default, or the replayed seed and path. */
export function fuzz(runs: number): fc.Parameters<unknown> {
  return {
    numRuns: Number(process.env.FC_RUNS ?? runs),
    ...(seed !== undefined ? { seed: Number(seed) } : {}),
    ...(path !== undefined ? { path } : {}),
    verbose: 1,
  }
}
