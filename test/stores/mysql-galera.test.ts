/**
 * MySQLStore over the 3-node Galera cluster of scripts/up-galera.sh (127.0.0.1:3307-3309):
 * the conformance suite through a PoolCluster, read-your-writes across nodes, one node
 * SIGKILLed under a load of concurrent commits (zero lost acknowledged sessions), the
 * node restarted and rejoined, and a store on a dead node recovering without restart.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import mysql from 'mysql2/promise'
import { MySQLStore } from '../../stores/mysql.js'
import { storeContract } from '../store-contract.js'
import { galera, galeraNode } from '../helpers/galera.js'

const g = await galera(t, 'galera')
if (g === undefined) process.exit()
const { pools, cluster, table, status, pidOf, up: upGalera } = g
const later = (ms = 120_000) => new Date(Date.now() + ms)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString())

/** Poll `check` every 50 ms until true; the ms it took, or -1 after `limit` ms. */
const until = async (check: () => Promise<boolean>, limit: number) => {
  const start = Date.now()
  while (Date.now() - start < limit) {
    if (await check().catch(() => false)) return Date.now() - start
    await sleep(50)
  }
  return -1
}

t.test('MySQLStore over a PoolCluster passes the contract', async (t) => {
  storeContract(t, {
    name: 'MySQLStore(Galera PoolCluster)',
    make: () => MySQLStore.create(cluster, { table, createTable: true, cleanupInterval: 0 }),
    teardown: (store) => store.close?.(),
    expiryWait: 800,
  })
})

t.test('MySQLStore on Galera: written through one node, read through another', async (t) => {
  const stores = await Promise.all(pools.map((p) => MySQLStore.create(p, { table, cleanupInterval: 0 })))
  t.teardown(() => Promise.all(stores.map((s) => s.close())))
  let stale = 0
  for (let i = 0; i < 150; i++) {
    const [a, b, c] = [stores[i % 3]!, stores[(i + 1) % 3]!, stores[(i + 2) % 3]!]
    const key = `ryw:${i}`
    const v1 = await a.commitIfVersion(key, Buffer.from(`a${i}`), later(), undefined)
    const seen = await b.findVersioned(key)
    if (text(seen?.data) !== `a${i}` || seen?.version !== v1) stale++
    const v2 = await c.commitIfVersion(key, Buffer.from(`c${i}`), later(), seen?.version)
    if (v2 === null || text(await a.find(key)) !== `c${i}`) stale++
  }
  t.equal(stale, 0, '150 writes each read back at once through another node, and versioned there')
})

t.test('MySQLStore on a PoolCluster keeps serving while a node is SIGKILLed', async (t) => {
  const store = await MySQLStore.create(cluster, { table, cleanupInterval: 0 })
  t.teardown(() => store.close())
  const acked = new Map<string, number>() // key -> last acknowledged sequence number
  let failed = 0
  const errors = new Set<string>()
  let conflicts = 0
  let done = 0
  let slowest = 0
  let stop = false
  const worker = async (w: number) => {
    for (let n = 0; !stop; n++) {
      const key = `load:${w}:${n}`
      try {
        const created = await store.commitIfVersion(key, Buffer.from('0'), later(), undefined)
        if (created === null) throw new Error(`create of ${key} conflicted`)
        let version: string | undefined = created
        acked.set(key, 0)
        for (let seq = 1; seq <= 3; seq++) {
          const started = Date.now()
          const next = await store.commitIfVersion(key, Buffer.from(String(seq)), later(), version)
          slowest = Math.max(slowest, Date.now() - started)
          if (next === null) {
            // As the manager does: re-read and retry with the current version.
            conflicts++
            version = (await store.findVersioned(key))?.version
            seq--
            continue
          }
          version = next
          acked.set(key, seq)
          done++
        }
      } catch (err) {
        failed++
        errors.add(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`)
      }
    }
  }
  const load = Array.from({ length: 24 }, (_, w) => worker(w))
  await sleep(1000)
  const victim = pidOf(2)
  const killedAt = Date.now()
  process.kill(victim, 'SIGKILL')
  const eviction = await until(async () => (await status(0, 'wsrep_cluster_size')) === '2', 15_000)
  await sleep(3000)
  stop = true
  await Promise.all(load)
  const elapsed = Date.now() - killedAt
  t.ok(eviction > 0, `node 2 evicted ${eviction} ms after SIGKILL`)

  // Every acknowledged commit is there, read through each surviving node.
  let lost = 0
  for (const i of [0, 2]) {
    const reader = await MySQLStore.create(pools[i]!, { table, cleanupInterval: 0 })
    for (const [key, seq] of acked) if (Number(text(await reader.find(key)) ?? -1) < seq) lost++
  }
  t.equal(lost, 0, `zero lost acknowledged sessions out of ${acked.size}`)
  t.ok(acked.size > 100, 'the load did run')
  console.log(
    `# galera failover: ${acked.size} sessions, ${done} versioned commits acknowledged, ${failed} failed ` +
      `requests, ${conflicts} conflicts, slowest commit ${slowest} ms, eviction ${eviction} ms after SIGKILL, load ran ${elapsed} ms after it`,
  )
  t.equal(failed, 0, 'no request failed: in-flight failures were retried on another node')
  if (errors.size > 0) t.comment(`errors: ${[...errors].join(' | ')}`)

  const restart = Date.now()
  await upGalera()
  const rejoin = Date.now() - restart
  t.equal(await status(1, 'wsrep_cluster_size'), '3', `node 2 restarted and rejoined in ${rejoin} ms`)
  const rejoined = await MySQLStore.create(pools[1]!, { table, cleanupInterval: 0 })
  let missing = 0
  for (const [key, seq] of acked) if (Number(text(await rejoined.find(key)) ?? -1) < seq) missing++
  t.equal(missing, 0, 'the rejoined node has every acknowledged session')
  console.log(`# galera rejoin: node 2 back in the cluster ${rejoin} ms after restart`)
})

t.test('MySQLStore on a PoolCluster rides out a spell without a primary component (1047) within retryWindow', async (t) => {
  // wsrep_reject_queries=ALL makes a node answer table statements with 1047, exactly as a
  // node outside the primary component does; on all three nodes it is a cluster-wide spell.
  const reject = (mode: 'ALL' | 'NONE') => Promise.all(pools.map((p) => p.query(`SET GLOBAL wsrep_reject_queries = ${mode}`)))
  t.teardown(() => reject('NONE').catch(() => {}))
  const open = (db: mysql.Pool | mysql.PoolCluster, retryWindow?: number) =>
    MySQLStore.create(db, { table, cleanupInterval: 0, ...(retryWindow === undefined ? {} : { retryWindow }) })
  const [clustered, single, short] = await Promise.all([open(cluster), open(pools[0]!), open(cluster, 300)])
  t.teardown(() => Promise.all([clustered, single, short].map((s) => s.close())))
  await clustered.commit('spell:1', Buffer.from('before'), later())

  const spell = 1500
  await reject('ALL')
  const started = Date.now()
  const settle = <T>(p: Promise<T>): Promise<{ value?: T; error?: unknown }> =>
    p.then((value) => ({ value }), (error: unknown) => ({ error }))
  const read = settle(clustered.find('spell:1'))
  const write = settle(clustered.commit('spell:2', Buffer.from('during'), later()))
  const code = (e: { error?: unknown }) => (e.error as { code?: string } | undefined)?.code
  t.equal(code(await settle(single.find('spell:1'))), 'ER_UNKNOWN_COM_ERROR', 'a single Pool (window 0) reports it')
  t.equal(code(await settle(short.find('spell:1'))), 'ER_UNKNOWN_COM_ERROR', 'a 300 ms window gives up too')
  const gaveUp = Date.now() - started
  t.ok(gaveUp < spell, `both gave up ${gaveUp} ms into the spell`)
  await sleep(spell - gaveUp)
  await reject('NONE')

  const [r, w] = await Promise.all([read, write])
  const answered = Date.now() - started
  t.same({ ...r, value: text(r.value) }, { value: 'before' }, 'the read issued during the spell answers once it ends')
  t.same(w, { value: undefined }, 'and so does the write')
  t.ok(answered >= spell && answered < 5000, `answered ${answered} ms after the first attempt, within the default 5000 ms window`)
  t.equal(text(await single.find('spell:2')), 'during', 'the write landed')
  console.log(`# galera non-primary spell of ${spell} ms: cluster store answered after ${answered} ms, window-0 stores gave up in ${gaveUp} ms`)
})

t.test('MySQLStore with its only server down rejects fast, and recovers once it is back', async (t) => {
  const only = mysql.createPool(galeraNode(3309))
  t.teardown(() => only.end())
  const store = await MySQLStore.create(only, { table, cleanupInterval: 0 })
  await store.commit('down:1', Buffer.from('kept'), later())
  process.kill(pidOf(3), 'SIGKILL')
  await until(async () => (await status(0, 'wsrep_cluster_size')) === '2', 15_000)
  const started = Date.now()
  await t.rejects(store.find('down:1'), 'a read rejects while the server is down')
  await t.rejects(store.commit('down:2', Buffer.from('x'), later()), 'a write rejects too')
  const took = Date.now() - started
  t.ok(took < 5000, `both rejected within ${took} ms`)
  await upGalera()
  t.equal(text(await store.find('down:1')), 'kept', 'the same store and pool serve again, no restart')
  console.log(`# galera down: rejection in ${took} ms for two calls; recovery after up-galera.sh`)
})
