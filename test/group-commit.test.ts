/**
 * Group commit, over real HTTP: commits of one session that wait behind a write of it
 * in flight go out as one store write — every change kept, every request answered when
 * the write that holds its change has landed — and when a merged write cannot be
 * encoded (over `maxSize`), its commits are written one by one, so only those at fault
 * fail and a failed request's change is never stored. The store answers after a real
 * delay, so the requests truly overlap.
 */
import t, { type Test } from 'tap'
import { type CommittedEvent, SessionManager, type SessionManagerOptions } from '../lib/index.js'
import { MemoryStore } from '../stores/memory.js'
import { Client, listen } from './helpers/http.js'
import { SpyStore } from './helpers/spy-store.js'

async function app(t: Test, options: Omit<SessionManagerOptions, 'store'> = {}) {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 15 })
  const manager = new SessionManager({ ...options, store, logger: { warn() {}, error() {} } })
  const commits: CommittedEvent[] = []
  manager.on('committed', (e) => commits.push(e))
  const server = await listen(manager.loadAndSave((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const q = url.searchParams
    switch (url.pathname) {
      case '/inc':
        return res.end(String(manager.increment(req, 'n')))
      case '/put':
        manager.put(req, q.get('k') ?? 'k', 'x'.repeat(Number(q.get('size') ?? 1)))
        return res.end('ok')
      case '/keys':
        return res.end(JSON.stringify(manager.keys(req)))
      default:
        return res.end(String(manager.getNumber(req, 'n')))
    }
  }))
  t.teardown(server.close)
  const client = new Client(server.url)
  await client.get('/inc')
  store.reset()
  commits.length = 0
  return { store, client, commits }
}

t.test('60 concurrent increments of one session: all kept, in far fewer store writes', async (t) => {
  const { store, client, commits } = await app(t)
  const replies = await Promise.all(Array.from({ length: 60 }, () => client.get('/inc')))
  t.ok(replies.every((r) => r.status === 200), 'every request answered 200')
  t.equal((await client.get('/')).body, '61', 'the counter holds every increment (1 + 60)')
  t.equal(commits.length, 60, 'each request reports its commit')
  const writes = store.calls.commitIfVersion ?? 0
  t.ok(writes <= 20, `60 commits in ${writes} store writes`)
})

t.test('a merged write over maxSize is written one by one: the puts that fit are kept, those that failed are not stored', async (t) => {
  // Room for about four of the 300-byte values; each put alone fits.
  const { client } = await app(t, { maxSize: 1500 })
  const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => client.get(`/put?k=v${i}&size=300`)))
  const ok = replies.map((r, i) => (r.status === 200 ? `v${i}` : undefined)).filter((k) => k !== undefined)
  const failed = replies.filter((r) => r.status === 500).length
  t.equal(ok.length + failed, 10, 'each request answered 200 or 500')
  t.ok(ok.length >= 1 && failed >= 1, `some fit, some did not (${ok.length} kept, ${failed} refused)`)
  const keys = (JSON.parse((await client.get('/keys')).body) as string[]).filter((k) => k.startsWith('v'))
  t.same(keys.sort(), [...ok].sort(), 'the session holds exactly the puts answered 200')
})

t.test('a commit waiting behind a renewal is not merged into it, and nothing is lost', async (t) => {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 15 })
  const manager = new SessionManager({ store, logger: { warn() {}, error() {} } })
  const server = await listen(manager.loadAndSave(async (req, res) => {
    if (req.url === '/renew') await manager.renewToken(req)
    else manager.increment(req, 'n')
    res.end(String(manager.getNumber(req, 'n')))
  }))
  t.teardown(server.close)
  const client = new Client(server.url)
  await client.get('/inc')
  const old = client.jar.get('session')
  const replies = await Promise.all([...Array.from({ length: 10 }, () => client.get('/inc')), client.get('/renew'), ...Array.from({ length: 10 }, () => client.get('/inc'))])
  t.ok(replies.every((r) => r.status === 200), 'every request answered 200')
  t.not(client.jar.get('session'), old, 'the renewal set a new token')
  t.equal((await client.get('/')).body, '22', 'the renewed session holds all 21 increments (1 + 20, and this read adds 1)')
})

t.test('written one by one after a failed merge, a commit never carries the change of one that failed', async (t) => {
  // The write in flight fails in the store (after 100 ms); the three commits waiting
  // behind it are merged, first a put too large to store at all, then two small ones.
  let failNext = false
  const store = new (class extends MemoryStore {
    override async commitIfVersion(...args: Parameters<MemoryStore['commitIfVersion']>) {
      if (failNext) {
        failNext = false
        await new Promise((r) => setTimeout(r, 100))
        throw new Error('store refused the write')
      }
      return super.commitIfVersion(...args)
    }
  })({ sweepInterval: 0 })
  const manager = new SessionManager({ store, maxSize: 1000, logger: { warn() {}, error() {} } })
  const server = await listen(manager.loadAndSave((req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams
    if (q.has('k')) manager.put(req, q.get('k') as string, 'x'.repeat(Number(q.get('size') ?? 1)))
    res.end(JSON.stringify(manager.keys(req)))
  }))
  t.teardown(server.close)
  const client = new Client(server.url)
  await client.get('/?k=start')
  failNext = true
  const inFlight = client.get('/?k=a')
  await new Promise((r) => setTimeout(r, 20))
  const big = client.get('/?k=big&size=2000')
  await new Promise((r) => setTimeout(r, 10))
  const small = [client.get('/?k=c'), client.get('/?k=d')]
  t.equal((await inFlight).status, 500, 'the write that failed in the store answers 500')
  t.equal((await big).status, 500, 'the put too large to store answers 500')
  t.same((await Promise.all(small)).map((r) => r.status), [200, 200], 'the small puts behind it answer 200')
  const keys = JSON.parse((await client.get('/')).body) as string[]
  t.same(keys.sort(), ['c', 'd', 'start'], 'the session holds the small puts, neither failed one')
})
