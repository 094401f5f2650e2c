/**
 * No lost updates on Postgres across real processes: two app processes share one table;
 * 50 concurrent requests of one session, half through each process, each put a key of
 * their own, and all 50 keys survive (the version column's compare-and-set catches
 * every overlap; the losers re-read and re-apply). Repeated for a few sessions.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Client } from '../helpers/http.js'
import { postgres, postgresUrl } from '../helpers/postgres.js'
import { startUserApp } from '../helpers/user-app.js'

const db = await postgres(t, 'dist', 2)
if (db === undefined) process.exit()
const { pool, table } = db
const storeUrl = `${postgresUrl}?table=${table}`
const prefix = `pgdist-${randomBytes(4).toString('hex')}:`
const [a, b] = await Promise.all([startUserApp(storeUrl, prefix), startUserApp(storeUrl, prefix)])
t.teardown(() => {
  a.child.kill()
  b.child.kill()
})

t.test('50 of 50 distinct-key writes to one session across two processes', async (t) => {
  for (let round = 0; round < 3; round++) {
    const onA = new Client(a.url)
    await onA.get('/key?k=start')
    const onB = new Client(b.url)
    onB.jar.set('session', onA.jar.get('session') ?? '')
    const before = await pool.query(`SELECT version FROM "${table}" WHERE id LIKE $1`, [`${prefix}%`])
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? onA : onB).get(`/key?k=k${i}`)))
    t.same([...new Set(responses.map((r) => r.status))], [200], `round ${round}: every request answered 200`)
    const keys = JSON.parse((await onB.get('/keys')).body) as string[]
    t.equal(keys.filter((k) => /^k\d+$/.test(k)).length, 50, `round ${round}: 50 of 50 keys kept`)
    t.ok(keys.includes('start'), 'and the first one')
    t.ok(before.rowCount !== null && before.rowCount > round, 'the session is a row of the table')
  }
})
