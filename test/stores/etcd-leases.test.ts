/**
 * Lease garbage of EtcdStore: 10,000 sessions created over one minute (an injected
 * clock advances 6 ms per session, so the minute passes without being waited for),
 * each with a 30-minute expiry. Prints how many leases they use; the figure is in
 * docs/stores/etcd.md. Then shows that leases expire on their own after deletes.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Etcd3 } from 'etcd3'
import { EtcdStore } from '../../stores/etcd.js'
import { reachable } from '../helpers/service.js'

const url = process.env.ETCD_URL ?? 'http://127.0.0.1:23790'
const client = new Etcd3({ hosts: url, dialTimeout: 2000 })
const prefix = `etcd-leases:${randomBytes(4).toString('hex')}:`
const data = new Uint8Array(200)
const used = new Set<string>()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.teardown(async () => {
  await client.delete().prefix(prefix).catch(() => {})
  // The test's leases would expire by themselves; revoke them to leave nothing behind.
  await Promise.all([...used].map((ID) => client.leaseClient.leaseRevoke({ ID }).catch(() => {})))
  client.close()
})

/** Distinct lease IDs attached to the keys under `p`. */
async function leasesUnder(p: string): Promise<Set<string>> {
  const ids = new Set<string>()
  let from = Buffer.from(p)
  const end = Buffer.from(p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1))
  for (;;) {
    const res = await client.kv.range({ key: from, range_end: end, limit: 5000, keys_only: true })
    for (const kv of res.kvs) ids.add(kv.lease)
    const last = res.kvs.at(-1)
    if (!res.more || last === undefined) return ids
    from = Buffer.concat([last.key, Buffer.from([0])])
  }
}

/** Create `n` sessions over `spanMs` of injected time; resolves to the store. */
async function createSessions(p: string, n: number, spanMs: number, leaseBucket?: number) {
  const start = Date.now()
  let now = start
  const store = new EtcdStore(client, { leaseBucket, now: () => now })
  for (let i = 0; i < n; i += 250) {
    await Promise.all(
      Array.from({ length: 250 }, (_, j) => {
        now = start + Math.floor(((i + j) * spanMs) / n)
        return store.commit(`${p}${i + j}`, data, new Date(now + 30 * 60_000))
      }),
    )
  }
  return store
}

if (await reachable(t, `etcd at ${url}`, () => client.get('probe').string())) {
  t.test('EtcdStore: 10,000 sessions created over a minute share a handful of leases', async (t) => {
    const before = (await client.leaseClient.leaseLeases()).leases.length
    const p = `${prefix}a:`
    const started = Date.now()
    const store = await createSessions(p, 10_000, 60_000)
    const ms = Date.now() - started
    const ids = await leasesUnder(p)
    for (const id of ids) used.add(id)
    const after = (await client.leaseClient.leaseLeases()).leases.length
    console.log(
      `# 10,000 sessions over 60 s (leaseBucket 60 s): ${ids.size} leases hold their ` +
        `20,000 keys; ${store.leases.granted} grants; leases on the server ${before} -> ${after}; ` +
        `commits took ${ms} ms`,
    )
    t.ok(ids.size <= 2, `at most 2 buckets span a minute of expiries (got ${ids.size})`)
    t.equal(store.leases.granted, ids.size, 'one grant per bucket, no more')

    const q = `${prefix}b:`
    const small = await createSessions(q, 10_000, 60_000, 5000)
    const smallIds = await leasesUnder(q)
    for (const id of smallIds) used.add(id)
    console.log(`# 10,000 sessions over 60 s (leaseBucket 5 s): ${smallIds.size} leases, ${small.leases.granted} grants`)
    t.ok(smallIds.size <= 13, `60 s / 5 s buckets: at most 13 leases (got ${smallIds.size})`)

    await client.delete().prefix(p)
    await createSessions(p, 1000, 30_000)
    const again = await leasesUnder(p)
    for (const id of again) used.add(id)
    t.ok(again.size <= 2, 'deleting and re-creating sessions does not multiply leases')
  })

  t.test('EtcdStore: leases of deleted sessions expire on their own at bucket end', async (t) => {
    const p = `${prefix}c:`
    const store = new EtcdStore(client, { leaseBucket: 1000 })
    const expiry = new Date(Date.now() + 1500)
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.commit(`${p}${i}`, data, expiry)))
    const ids = await leasesUnder(p)
    t.ok(ids.size >= 1 && ids.size <= 2, `100 sessions, ${ids.size} lease(s)`)
    await client.delete().prefix(p)
    await sleep(5000)
    for (const ID of ids) {
      const ttl = await client.leaseClient.leaseTimeToLive({ ID })
      t.equal(ttl.TTL, '-1', `lease ${ID} is gone (expired), nothing revoked it`)
    }
    await store.commit(`${p}new`, data, new Date(Date.now() + 60_000))
    t.equal(store.leases.size, 1, 'ended buckets are dropped from the cache')
  })
}
