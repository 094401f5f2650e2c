/**
 * EtcdStore against the single etcd member (ETCD_URL, default 127.0.0.1:23790, started
 * by scripts/up-etcd.sh): the conformance suite with the default 60 s lease buckets and
 * with 1 s buckets, then the store's own extras (options, exact expiry under bucket
 * rounding, lease re-grant, grant failure, key layout, paging).
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Etcd3 } from 'etcd3'
import { EtcdStore } from '../../stores/etcd.js'
import { storeContract } from '../store-contract.js'
import { reachable } from '../helpers/service.js'

const url = process.env.ETCD_URL ?? 'http://127.0.0.1:23790'
const client = new Etcd3({ hosts: url, dialTimeout: 2000 })
const prefix = `etcd-test:${randomBytes(4).toString('hex')}:`
const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))
const later = (ms: number) => new Date(Date.now() + ms)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.teardown(async () => {
  await client.delete().prefix(prefix).catch(() => {})
  client.close()
})

if (await reachable(t, `etcd at ${url}`, () => client.get('probe').string())) {
  t.test('default 60 s lease buckets', async (t) => {
    storeContract(t, { name: 'EtcdStore', make: () => new EtcdStore(client) })
  })
  t.test('1 s lease buckets, pages of 40', async (t) => {
    storeContract(t, {
      name: 'EtcdStore',
      make: () => new EtcdStore(client, { leaseBucket: 1000, pageSize: 40 }),
    })
  })

  t.test('EtcdStore options are validated with ConfigError', async (t) => {
    const bad: Record<string, unknown>[] = [
      { leaseBucket: 500 }, { leaseBucket: 1500 }, { leaseBucket: '60s' }, { pageSize: 0 },
      { pageSize: 1.5 }, { userNamespace: '' }, { timeout: -1 }, { now: 5 },
    ]
    for (const opts of bad) {
      t.throws(() => new EtcdStore(client, opts), { code: 'ERR_CONFIG' }, JSON.stringify(opts))
    }
    t.throws(() => new EtcdStore({} as never), { code: 'ERR_CONFIG' }, 'not an etcd3 client')
    t.throws(() => new EtcdStore(client, { timeout: 2 ** 31 }), { name: 'ConfigError', message: /^invalid EtcdStore options: option timeout: expected a whole number of ms from 0 to 2147483647$/ }, 'timeout beyond the 32-bit timer limit')
    t.throws(() => new EtcdStore(client, { timout: 5 } as never), { name: 'ConfigError', message: /^invalid EtcdStore options: unknown option timout$/ }, 'an unknown option is named')
    t.ok(new EtcdStore(client, { leaseBucket: undefined }), 'undefined keeps the default')
  })

  t.test('EtcdStore enforces the exact expiry while the bucket lease still holds the key', async (t) => {
    const store = new EtcdStore(client) // 60 s buckets
    await store.commit(`${prefix}exact`, bytes('x'), later(300))
    await sleep(600)
    t.equal(await store.find(`${prefix}exact`), undefined, 'expired: not served')
    t.equal(await store.findVersioned(`${prefix}exact`), undefined)
    const raw = await client.get(`${prefix}exact`).buffer()
    t.ok(raw !== null, 'the key itself is still in etcd until its bucket ends')
    t.type(
      await store.commitIfVersion(`${prefix}exact`, bytes('y'), later(60_000), undefined),
      'string',
      'an expired-but-present key counts as absent for create',
    )
    t.equal(text(await store.find(`${prefix}exact`)), 'y')
  })

  t.test('EtcdStore shares one lease per bucket and re-grants a revoked one once', async (t) => {
    const store = new EtcdStore(client)
    const expiry = later(120_000)
    for (const k of ['l1', 'l2', 'l3']) await store.commit(`${prefix}${k}`, bytes(k), expiry)
    const ids = await Promise.all(
      ['l1', 'l2', 'l3'].map(async (k) => (await client.kv.range({ key: Buffer.from(`${prefix}${k}`) })).kvs[0]?.lease),
    )
    t.equal(new Set(ids).size, 1, 'one lease for three sessions of one bucket')
    t.equal(store.leases.granted, 1, 'granted once')
    await client.leaseClient.leaseRevoke({ ID: ids[0] })
    t.equal(await store.find(`${prefix}l1`), undefined, 'revoking the lease removed the keys')
    await store.commit(`${prefix}l4`, bytes('l4'), expiry)
    t.equal(text(await store.find(`${prefix}l4`)), 'l4', 'commit succeeded on a fresh lease')
    t.equal(store.leases.granted, 2, '"lease not found" led to exactly one re-grant')
  })

  t.test('EtcdStore rejects when the lease grant fails', async (t) => {
    const store = new EtcdStore(client)
    // etcd refuses TTLs over 9e9 s; this expiry needs ~2.7e11 s.
    const far = new Date(8.64e15)
    await t.rejects(store.commit(`${prefix}far`, bytes('x'), far), /lease TTL/)
    t.equal(await store.find(`${prefix}far`), undefined, 'nothing written')
    t.equal(store.leases.size, 0, 'the failed grant is not cached')
  })

  t.test('EtcdStore key layout: the key as given, a version sidecar, a user namespace', async (t) => {
    const p = `${prefix}layout:`
    const store = new EtcdStore(client, { userNamespace: `${p}users/` })
    const version = await store.commitIfVersion(`${p}s`, bytes('data'), later(60_000), undefined)
    await store.addToUser('u1', `${p}s`, later(60_000))
    const keys = (await client.getAll().prefix(p).keys()).sort()
    t.same(keys, [`${p}s`, `${p}s\0v`, `${p}users/u1\0${p}s`])
    const raw = await client.get(`${p}s\0v`).buffer()
    t.equal(raw?.toString('hex'), version, 'the sidecar holds the version token')
    const envelope = await client.get(`${p}s`).buffer()
    t.equal(envelope?.[0], 1, 'the value is an envelope of kind 1 (session)')
    const expiry = Number(envelope?.readBigUInt64BE(1))
    t.ok(Math.abs(expiry - (Date.now() + 60_000)) < 5000, 'then the exact expiry in ms')
    t.equal(envelope?.subarray(9).toString(), 'data', 'then the data')
    await t.rejects(store.commit('a\0b', bytes('x'), later(1000)), { name: 'ConfigError', code: 'ERR_CONFIG', message: /argument key: expected no NUL character/ }, 'NUL in a key: a documented error')
    await store.delete(`${p}s`)
    t.same(await client.getAll().prefix(`${p}s`).keys(), [], 'delete removes the sidecar too')
  })

  t.test('EtcdStore.all pages through a namespaced client', async (t) => {
    const ns = client.namespace(`${prefix}ns/`)
    const store = new EtcdStore(ns, { pageSize: 7 })
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.commit(`p:${i}`, bytes(`${i}`), later(60_000))))
    const seen: string[] = []
    for await (const [k] of store.all('p:')) seen.push(k)
    t.equal(seen.length, 30, 'every session once, sidecars skipped')
    t.ok(seen.includes('p:29'), 'keys without the namespace prefix')
    const raw = await client.get(`${prefix}ns/p:3`).buffer()
    t.equal(raw?.subarray(9).toString(), '3', 'stored under the namespace, in an envelope')
  })
}
