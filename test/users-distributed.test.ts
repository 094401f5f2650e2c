/**
 * The user features across real processes: two app processes share Redis, etcd,
 * MySQL or Postgres. revokeUser on A makes B's next request anonymous; two logins of one user
 * racing on A and B leave exactly one session with singleSession; six logins racing
 * on A and B with maxSessionsPerUser 2 leave exactly two — the two newest
 * (evictOldest), or the two admitted while the four others are answered 409
 * ERR_SESSION_LIMIT over HTTP (refuse).
 */
import t from 'tap'
import { Client } from './helpers/http.js'
import { serverStores } from './helpers/server-stores.js'
import { twoApps } from './helpers/user-app.js'

const stores = serverStores()

for (const [name, storeUrl] of Object.entries(stores)) {
  t.test(`two processes on ${name}`, async (t) => {
    const apps = await twoApps(t, name, storeUrl, 'dist')
    if (apps === undefined) return
    const [a, b] = apps
    const body = async (c: Client, path: string) => JSON.parse((await c.get(path)).body)

    t.test('revokeUser on A makes B anonymous', async (t) => {
      const onA = new Client(a.url)
      const onB = new Client(b.url)
      await onA.get('/login?user=ann')
      await onB.get('/login?user=ann')
      t.equal((await body(onB, '/')).user, 'ann')
      const shared = new Client(b.url)
      shared.jar.set('session', onA.jar.get('session') ?? '')
      t.equal((await body(shared, '/')).user, 'ann', 'A\'s session is readable through B')
      t.equal(JSON.parse((await onA.get('/sessions?user=ann')).body).length, 2, 'A lists both sessions')
      const revoked = await onA.get('/revoke?user=ann')
      t.equal(revoked.headers.get('x-revoked'), '1')
      t.equal((await body(onB, '/')).user, null, "B's next request is anonymous")
      t.equal((await body(onA, '/')).user, 'ann', 'A keeps its own')
    })

    t.test('singleSession holds when two logins race on A and B', async (t) => {
      for (let trial = 0; trial < 5; trial++) {
        const user = `racer-${trial}`
        const x = new Client(a.url)
        const y = new Client(b.url)
        await Promise.all([x.get(`/single/login?user=${user}`), y.get(`/single/login?user=${user}`)])
        const alive = [(await body(x, '/single/')).user, (await body(y, '/single/')).user].filter(Boolean)
        t.equal(alive.length, 1, `trial ${trial}: exactly one session survives (${alive.length} alive)`)
        t.equal(JSON.parse((await x.get(`/single/sessions?user=${user}`)).body).length, 1)
      }
    })

    /** Six clients, alternately on A and B, logging one user in at once. */
    const race = async (path: string, user: string) => {
      const clients = Array.from({ length: 6 }, (_, i) => new Client(i % 2 === 0 ? a.url : b.url))
      const replies = await Promise.all(clients.map((c) => c.get(`/${path}/login?user=${user}`)))
      const alive: boolean[] = []
      for (const c of clients) alive.push((await body(c, `/${path}/`)).user === user)
      const listed = JSON.parse((await clients[0]!.get(`/${path}/sessions?user=${user}`)).body) as { loggedIn: string }[]
      return { replies, alive, listed }
    }

    t.test('maxSessionsPerUser 2, evictOldest: of six racing logins the two newest survive', async (t) => {
      for (let trial = 0; trial < 3; trial++) {
        const { replies, alive, listed } = await race('evict', `evict-${trial}`)
        t.same(replies.map((r) => r.status), Array(6).fill(200), `trial ${trial}: every login answered 200`)
        t.equal(alive.filter(Boolean).length, 2, `trial ${trial}: exactly two sessions survive`)
        t.equal(listed.length, 2, `trial ${trial}: two listed`)
        // An evicted login started (x-login-before) no later than the oldest survivor logged in.
        const oldestSurvivor = Math.min(...listed.map((s) => Date.parse(s.loggedIn)))
        const evictedStarts = replies.filter((_, i) => !alive[i]).map((r) => Number(r.headers.get('x-login-before')))
        t.ok(evictedStarts.every((start) => start <= oldestSurvivor), `trial ${trial}: no survivor is older than an evicted login`)
      }
    })

    t.test("maxSessionsPerUser 2, refuse: two of six racing logins admitted, four get 409 ERR_SESSION_LIMIT", async (t) => {
      for (let trial = 0; trial < 3; trial++) {
        const { replies, alive, listed } = await race('refuse', `refuse-${trial}`)
        const ok = replies.map((r) => r.status === 200)
        t.equal(ok.filter(Boolean).length, 2, `trial ${trial}: two logins answered 200`)
        const refused = replies.filter((r) => r.status !== 200)
        t.same(refused.map((r) => [r.status, JSON.parse(r.body).code]), Array(4).fill([409, 'ERR_SESSION_LIMIT']), `trial ${trial}: four 409s`)
        t.same(alive, ok, `trial ${trial}: exactly the admitted ones are logged in`)
        t.equal(listed.length, 2, `trial ${trial}: two listed, no refused session left behind`)
      }
    })
  })
}
