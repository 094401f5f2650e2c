/**
 * No lost updates: concurrent requests of one session, each putting its own key,
 * over real HTTP. The store answers after a real delay so the requests truly overlap
 * (an in-memory store answering within one tick would serialise them and prove nothing).
 */
import t from 'tap'
import { type CommittedEvent, SessionManager } from '../lib/index.js'
import { MemoryStore } from '../stores/memory.js'
import { Client, listen } from './helpers/http.js'
import { SpyStore } from './helpers/spy-store.js'

async function server(manager: SessionManager) {
  return { manager, ...(await listen(
    manager.loadAndSave((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const key = url.searchParams.get('key')
      if (key !== null) manager.put(req, key, true)
      res.end(JSON.stringify(manager.keys(req)))
    }),
  )) }
}

t.test('50 concurrent requests on one session keep all 50 keys (one process)', async (t) => {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 5 })
  const manager = new SessionManager({ store })
  const app = await server(manager)
  t.teardown(app.close)
  const client = new Client(app.url)
  await client.get('/?key=start')
  let inFlight = 0
  let maxInFlight = 0
  const inner = store.find.bind(store)
  store.find = async (key) => {
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    try { return await inner(key) } finally { inFlight-- }
  }
  const reads = () => (store.calls.findVersioned ?? 0)
  store.reset()
  await Promise.all(Array.from({ length: 50 }, (_, i) => client.get(`/?key=k${i}`)))
  t.ok(reads() >= 50, 'every request read the session')
  const keys = JSON.parse((await client.get('/')).body) as string[]
  t.equal(keys.filter((k) => k.startsWith('k')).length, 50, '50 of 50 keys kept')
  t.ok(keys.includes('start'), 'and the earlier key')
  t.ok((store.calls.commitIfVersion ?? 0) <= 55, `few commits: ${store.calls.commitIfVersion} for 50 writes (in-process chain)`)
})

t.test('two managers (two "processes") sharing a store lose nothing either', async (t) => {
  const shared = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 3 })
  const a = await server(new SessionManager({ store: shared }))
  const b = await server(new SessionManager({ store: shared }))
  t.teardown(a.close)
  t.teardown(b.close)
  const ca = new Client(a.url)
  await ca.get('/?key=start')
  const cb = new Client(b.url)
  cb.jar.set('session', ca.jar.get('session') ?? '')
  const commits: CommittedEvent[] = []
  for (const m of [a.manager, b.manager]) m.on('committed', (e) => commits.push(e))
  shared.reset()
  await Promise.all(
    Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? ca : cb).get(`/?key=k${i}`)),
  )
  const keys = JSON.parse((await ca.get('/')).body) as string[]
  t.equal(keys.filter((k) => k.startsWith('k')).length, 50, '50 of 50 keys kept across processes')
  t.equal(commits.length, 50, 'every write committed')
  const retried = commits.filter((e) => e.attempts > 1).length
  t.ok(retried > 0, `the other "process"'s writes were refused by version and retried (${retried} of 50 commits)`)
  // Group commit: the writes waiting in one process behind its write in flight go out as one.
  t.ok((shared.calls.commitIfVersion ?? 0) < 50, `fewer store writes than requests (${shared.calls.commitIfVersion} for 50)`)
})

t.test('a destroy racing writes is never undone by them', async (t) => {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 5 })
  const manager = new SessionManager({ store })
  const app = await listen(
    manager.loadAndSave(async (req, res) => {
      if (req.url === '/destroy') await manager.destroy(req)
      else manager.put(req, 'x', req.url)
      res.end('ok')
    }),
  )
  t.teardown(app.close)
  const client = new Client(app.url)
  await client.get('/start')
  const token = client.jar.get('session')
  const cookie = { headers: { cookie: `session=${token}` } }
  await Promise.all([client.get('/w1', cookie), client.get('/destroy', cookie), client.get('/w2', cookie)])
  const after = await manager.load(token)
  t.ok(after.isNew, 'the destroyed session stays destroyed')
})
