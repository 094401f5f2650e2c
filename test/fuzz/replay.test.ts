/**
 * test/helpers/fuzz.ts: a failing property prints its seed and path, and FC_SEED/FC_PATH
 * replay exactly that counterexample.
 */
import fc from 'fast-check'
import t from 'tap'
import { fuzz } from '../helpers/fuzz.js'

t.test('a failing seed is printed and FC_SEED/FC_PATH replay its counterexample', async (t) => {
  const saved = { seed: process.env.FC_SEED, path: process.env.FC_PATH }
  t.teardown(() => {
    for (const [k, v] of [['FC_SEED', saved.seed], ['FC_PATH', saved.path]] as const) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
  delete process.env.FC_SEED
  delete process.env.FC_PATH
  const property = fc.property(fc.string(), (s) => s.length < 3)
  const first = fc.check(property, fuzz(500))
  t.ok(first.failed, 'the property fails')
  const report = fc.defaultReportMessage(first) ?? ''
  t.match(report, new RegExp(`seed: ${first.seed}, path: "${first.counterexamplePath}"`), 'the report prints seed and path')
  process.env.FC_SEED = String(first.seed)
  process.env.FC_PATH = first.counterexamplePath ?? ''
  const replay = fc.check(property, fuzz(500))
  t.equal(replay.numRuns, 1, 'the replay runs the failing case first')
  t.same(replay.counterexample, first.counterexample, 'the same counterexample')
})
