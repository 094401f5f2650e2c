/** Deadlines: one timer times out every pending store call, oldest first. */
import t from 'tap'
import { Deadlines } from '../../lib/deadline.js'

const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms))
const never = new Promise<never>(() => {})

t.test('calls that settle in time pass through; hung ones fail after the limit', async (t) => {
  const d = new Deadlines(80)
  const started = Date.now()
  const outcomes = await Promise.allSettled([
    d.race(later(10, 'fast'), () => new Error('timeout 1')),
    d.race(never, () => new Error('timeout 2')),
    d.race(Promise.reject(new Error('own failure')), () => new Error('timeout 3')),
    d.race(later(300, 'too slow'), () => new Error('timeout 4')),
  ])
  const elapsed = Date.now() - started
  t.same(
    outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
    ['fast', 'timeout 2', 'own failure', 'timeout 4'],
  )
  t.ok(elapsed >= 75 && elapsed < 250, `timed out after ${elapsed} ms (limit 80)`)
  t.equal(d.size, 0, 'nothing left pending')
})

t.test('calls started later get their own full time limit', async (t) => {
  const d = new Deadlines(60)
  const first = d.race(never, () => new Error('first'))
  await later(40, null)
  const second = d.race(later(50, 'second in time'), () => new Error('second timed out'))
  await t.rejects(first, { message: 'first' })
  t.equal(await second, 'second in time', 'the first expiry did not take the second with it')
  t.equal(d.size, 0)
})
