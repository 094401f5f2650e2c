/**
 * Round trips of EtcdStore, counted on the etcd3 client itself: `defaultCallOptions`
 * is called once per RPC actually sent (retries included), with the service and method.
 * A read is one Range; a commit is one Txn, plus one LeaseGrant only when a new expiry
 * bucket opens.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Etcd3 } from 'etcd3'
import { EtcdStore } from '../../stores/etcd.js'
import { reachable } from '../helpers/service.js'

const url = process.env.ETCD_URL ?? 'http://127.0.0.1:23790'
let calls: string[] = []
const client = new Etcd3({
  hosts: url,
  dialTimeout: 2000,
  defaultCallOptions: (ctx) => {
    calls.push(`${ctx.service}.${ctx.method}`)
    return {}
  },
})
const prefix = `etcd-rt:${randomBytes(4).toString('hex')}:`
const data = new TextEncoder().encode('payload')
const later = (ms: number) => new Date(Date.now() + ms)

/** The RPCs `fn` sends. */
async function count(fn: () => Promise<unknown>): Promise<string[]> {
  calls = []
  await fn()
  return calls
}

t.teardown(async () => {
  await client.delete().prefix(prefix).catch(() => {})
  client.close()
})

if (await reachable(t, `etcd at ${url}`, () => client.get('probe').string())) {
  const store = new EtcdStore(client)
  const key = (k: string) => `${prefix}${k}`
  const expiry = later(10 * 60_000)

  t.test('EtcdStore.commit: one Txn, plus one LeaseGrant when a bucket opens', async (t) => {
    t.same(await count(() => store.commit(key('a'), data, expiry)), ['Lease.leaseGrant', 'KV.txn'])
    t.same(await count(() => store.commit(key('b'), data, expiry)), ['KV.txn'], 'same bucket: cached lease')
    t.same(await count(() => store.commit(key('a'), data, expiry)), ['KV.txn'])
    const grants = await count(() =>
      Promise.all(Array.from({ length: 20 }, (_, i) => store.commit(key(`c${i}`), data, later(20 * 60_000)))),
    )
    t.equal(grants.filter((c) => c === 'Lease.leaseGrant').length, 1, '20 concurrent commits into a new bucket: one grant')
    t.equal(grants.filter((c) => c === 'KV.txn').length, 20)
  })

  t.test('EtcdStore reads are one Range', async (t) => {
    t.same(await count(() => store.find(key('a'))), ['KV.range'])
    t.same(await count(() => store.findVersioned(key('a'))), ['KV.range'])
    t.same(await count(() => store.find(key('missing'))), ['KV.range'])
    t.same(await count(() => store.listUser('nobody')), ['KV.range'])
  })

  t.test('EtcdStore.commitIfVersion is one Txn', async (t) => {
    let v: string | null = null
    t.same(await count(async () => (v = await store.commitIfVersion(key('v'), data, expiry, undefined))), ['KV.txn'])
    t.same(await count(() => store.commitIfVersion(key('v'), data, expiry, v ?? '')), ['KV.txn'])
    t.same(await count(() => store.commitIfVersion(key('v'), data, expiry, v ?? '')), ['KV.txn'], 'a conflict too')
    t.same(await count(() => store.commitIfVersion(key('v'), data, expiry, undefined)), ['KV.txn'], 'create on a live key too')
  })

  t.test('EtcdStore.delete is one DeleteRange; touch a Range and a Txn', async (t) => {
    t.same(await count(() => store.delete(key('b'))), ['KV.deleteRange'])
    t.same(await count(() => store.touch(key('a'), expiry)), ['KV.range', 'KV.txn'])
    t.same(await count(() => store.touch(key('gone'), expiry)), ['KV.range'], 'nothing to touch: no write')
  })

  t.test('EtcdStore.all reads pages, never the whole prefix at once', async (t) => {
    const paged = new EtcdStore(client, { pageSize: 10 })
    await Promise.all(Array.from({ length: 25 }, (_, i) => paged.commit(key(`all:${i}`), data, expiry)))
    let n = 0
    const ranges = await count(async () => {
      for await (const _ of paged.all(key('all:'))) n++
    })
    t.equal(n, 25)
    // 25 sessions + 25 version sidecars = 50 keys in pages of 10.
    t.same(ranges, Array(5).fill('KV.range'), '5 range requests of 10 keys')
  })

  t.test('SessionManager over EtcdStore: a user with 1,000 sessions', async (t) => {
    const { SessionManager } = await import('../../lib/index.js')
    const manager = new SessionManager({ store, prefix: key('many:'), logger: { warn() {}, error() {} } })
    for (let i = 0; i < 1000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const s = await manager.load(undefined)
          await manager.login(s, 'many')
          await manager.commit(s)
        }),
      )
    }
    let listed = 0
    const listing = await count(async () => (listed = (await manager.sessionsOf('many')).length))
    t.equal(listed, 1000)
    // The 10 transactions go out at once: two round trips of latency.
    t.same(listing, ['KV.range', ...Array(10).fill('KV.txn')], 'sessionsOf: one Range, then 10 Txns of 100 reads sent together')
    let revoked = 0
    const revoking = await count(async () => (revoked = await manager.revokeUser('many')))
    t.equal(revoked, 1000)
    t.same(revoking, ['KV.range', ...Array(20).fill('KV.txn')], 'revokeUser: one Range, then 20 Txns of 100 deletes sent together')
    t.same(await manager.sessionsOf('many'), [])
  })
}
