/**
 * The Store conformance suite. Every store in stores/ runs it against a real backend,
 * and third-party store authors can run it against theirs:
 *
 * ```ts
 * import t from 'tap'
 * import { storeContract } from 'session-manager/test/store-contract'
 * storeContract(t, { name: 'MyStore', make: () => new MyStore(client) })
 * ```
 *
 * Each subtest works under its own random prefix, so stores sharing one backend (and
 * leftovers of earlier runs) never interfere. Expiry tests use the store's own clock
 * (real time), with short lifetimes.
 */
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { SessionManager } from '../lib/manager.js'
import { usersContract } from './store-contract-users.js'
import {
  canBatch,
  canIterate,
  canTouch,
  hasUserIndex,
  isVersioned,
  type Store,
} from '../lib/store.js'

export interface ContractOptions {
  /** Shown in test names. */
  name: string
  /** A store connected to the backend under test. Called once for the whole suite. */
  make: () => Store | Promise<Store>
  /** Called after the suite (close clients here). */
  teardown?: (store: Store) => Promise<void> | void
  /**
   * Capabilities the store must have. Stores in stores/ implement all of them; a
   * third-party store can opt out of some. Default: all.
   */
  require?: Partial<Record<'versions' | 'touch' | 'userIndex' | 'all' | 'batch', boolean>>
  /** Largest value the store must accept, in bytes. Default 1 MiB. */
  largeValue?: number
  /** How long to wait for a short expiry to pass, in ms. Default 1200. */
  expiryWait?: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))
const later = (ms: number) => new Date(Date.now() + ms)

/** Register the conformance suite on `t`. */
export function storeContract(t: Test, options: ContractOptions): void {
  const need = { versions: true, touch: true, userIndex: true, all: true, batch: true, ...options.require }
  const large = options.largeValue ?? 1024 * 1024
  const wait = options.expiryWait ?? 1200
  let store: Store
  let prefix = ''
  const key = (k: string) => `${prefix}${k}`

  t.before(async () => {
    store = await options.make()
  })
  t.after(async () => {
    if (options.teardown) await options.teardown(store)
  })
  t.beforeEach(() => {
    prefix = `contract:${randomBytes(6).toString('hex')}:`
  })

  t.test(`${options.name} has the required capabilities`, async (t) => {
    if (need.versions) t.ok(isVersioned(store), 'findVersioned + commitIfVersion')
    if (need.touch) t.ok(canTouch(store), 'touch')
    if (need.userIndex) t.ok(hasUserIndex(store), 'addToUser + listUser + removeFromUser')
    if (need.all) t.ok(canIterate(store), 'all')
    if (need.batch) t.ok(canBatch(store), 'findMany + deleteMany')
  })

  t.test(`${options.name}.find returns undefined for a missing key`, async (t) => {
    t.equal(await store.find(key('missing')), undefined)
  })

  t.test(`${options.name}.commit then find round-trips the bytes`, async (t) => {
    await store.commit(key('a'), bytes('hello'), later(60_000))
    t.equal(text(await store.find(key('a'))), 'hello')
    await store.commit(key('a'), bytes('replaced'), later(60_000))
    t.equal(text(await store.find(key('a'))), 'replaced', 'commit replaces')
  })

  t.test(`${options.name} stores binary data byte for byte`, async (t) => {
    const all = new Uint8Array(512)
    for (let i = 0; i < all.length; i++) all[i] = i % 256
    await store.commit(key('bin'), all, later(60_000))
    const back = await store.find(key('bin'))
    t.ok(back instanceof Uint8Array, 'a Uint8Array comes back')
    t.same(Buffer.from(back ?? []), Buffer.from(all))
    await store.commit(key('empty'), new Uint8Array(0), later(60_000))
    const empty = await store.find(key('empty'))
    t.equal(empty?.length, 0, 'an empty value is stored, not treated as missing')
  })

  t.test(`${options.name} accepts a large value`, async (t) => {
    const big = new Uint8Array(randomBytes(large))
    await store.commit(key('big'), big, later(60_000))
    const back = await store.find(key('big'))
    t.equal(back?.length, large)
    t.ok(back !== undefined && Buffer.from(back).equals(Buffer.from(big)), 'same bytes')
  })

  t.test(`${options.name}.delete removes, and is idempotent`, async (t) => {
    await store.commit(key('d'), bytes('x'), later(60_000))
    await store.delete(key('d'))
    t.equal(await store.find(key('d')), undefined)
    await store.delete(key('d'))
    await store.delete(key('never-there'))
    t.pass('deleting missing keys does not throw')
  })

  t.test(`${options.name} expires entries at their expiry`, async (t) => {
    await store.commit(key('short'), bytes('x'), later(300))
    await store.commit(key('long'), bytes('y'), later(60_000))
    t.equal(text(await store.find(key('short'))), 'x', 'live before expiry')
    await sleep(wait)
    t.equal(await store.find(key('short')), undefined, 'gone after expiry')
    t.equal(text(await store.find(key('long'))), 'y', 'others untouched')
    await store.commit(key('past'), bytes('z'), new Date(Date.now() - 1000))
    t.equal(await store.find(key('past')), undefined, 'an expiry in the past is never served')
  })

  t.test(`${options.name} keeps keys of different prefixes apart`, async (t) => {
    await store.commit(`${prefix}a:k`, bytes('one'), later(60_000))
    await store.commit(`${prefix}b:k`, bytes('two'), later(60_000))
    t.equal(text(await store.find(`${prefix}a:k`)), 'one')
    t.equal(text(await store.find(`${prefix}b:k`)), 'two')
  })

  t.test(`${options.name} handles concurrent commits to many keys`, async (t) => {
    const n = 100
    await Promise.all(
      Array.from({ length: n }, (_, i) => store.commit(key(`c${i}`), bytes(`v${i}`), later(60_000))),
    )
    const found = await Promise.all(Array.from({ length: n }, (_, i) => store.find(key(`c${i}`))))
    t.same(found.map(text), Array.from({ length: n }, (_, i) => `v${i}`))
  })

  t.test(`${options.name}.all streams every live entry of a prefix`, async (t) => {
    if (!canIterate(store)) return t.pass('not run: store has no all()')
    const n = 250
    for (let i = 0; i < n; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          store.commit(key(`it:${i + j}`), bytes(`${i + j}`), later(60_000)),
        ),
      )
    }
    await store.commit(key('it-expired'), bytes('old'), later(200))
    await store.commit(`other${prefix}it:x`, bytes('foreign'), later(60_000))
    await sleep(wait)
    const seen = new Map<string, string>()
    for await (const [k, data] of store.all(`${prefix}it:`)) seen.set(k, text(data) ?? '')
    t.equal(seen.size, n, 'every entry once, nothing of another prefix')
    t.equal(seen.get(key('it:7')), '7', 'keys come back whole, with their data')
    const expired = []
    for await (const [k] of store.all(prefix)) if (k === key('it-expired')) expired.push(k)
    t.same(expired, [], 'expired entries are not listed')
  })

  t.test(`${options.name}.findVersioned / commitIfVersion detect conflicts`, async (t) => {
    if (!isVersioned(store)) return t.pass('not run: store has no versions')
    t.equal(await store.findVersioned(key('v')), undefined, 'missing is undefined')
    const v1 = await store.commitIfVersion(key('v'), bytes('one'), later(60_000), undefined)
    t.type(v1, 'string', 'create-if-absent succeeds on a missing key')
    t.equal(
      await store.commitIfVersion(key('v'), bytes('dup'), later(60_000), undefined),
      null,
      'create-if-absent conflicts when the key exists',
    )
    const e1 = await store.findVersioned(key('v'))
    t.equal(text(e1?.data), 'one')
    t.equal(e1?.version, v1, 'findVersioned reports the committed version')
    const v2 = await store.commitIfVersion(key('v'), bytes('two'), later(60_000), v1 ?? '')
    t.type(v2, 'string')
    t.not(v2, v1, 'a commit changes the version')
    t.equal(
      await store.commitIfVersion(key('v'), bytes('stale'), later(60_000), v1 ?? ''),
      null,
      'a stale version conflicts',
    )
    t.equal(text(await store.find(key('v'))), 'two', 'a conflicting commit wrote nothing')
    await store.commit(key('v'), bytes('plain'), later(60_000))
    t.equal(
      await store.commitIfVersion(key('v'), bytes('after-plain'), later(60_000), v2 ?? ''),
      null,
      'a plain commit also changes the version',
    )
    await store.delete(key('v'))
    t.equal(
      await store.commitIfVersion(key('v'), bytes('zombie'), later(60_000), v2 ?? ''),
      null,
      'a versioned commit never resurrects a deleted entry',
    )
    t.equal(await store.find(key('v')), undefined)
  })

  t.test(`${options.name}.commitIfVersion lets exactly one racer win`, async (t) => {
    const s = store
    if (!isVersioned(s)) return t.pass('not run: store has no versions')
    const v = await s.commitIfVersion(key('race'), bytes('0'), later(60_000), undefined)
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        s.commitIfVersion(key('race'), bytes(`w${i}`), later(60_000), v ?? ''),
      ),
    )
    const winners = results.filter((r) => r !== null)
    t.equal(winners.length, 1, 'one winner')
    const winner = results.findIndex((r) => r !== null)
    t.equal(text(await store.find(key('race'))), `w${winner}`, 'the winner wrote')
    const created = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        s.commitIfVersion(key('race-new'), bytes(`n${i}`), later(60_000), undefined),
      ),
    )
    t.equal(created.filter((r) => r !== null).length, 1, 'one creator of a new key')
  })

  t.test(`${options.name}.findVersioned treats expired entries as missing`, async (t) => {
    if (!isVersioned(store)) return t.pass('not run: store has no versions')
    const v = await store.commitIfVersion(key('ve'), bytes('x'), later(300), undefined)
    t.type(v, 'string')
    const live = await store.findVersioned(key('ve'))
    if (live?.expiry !== undefined) {
      t.ok(Math.abs(live.expiry.getTime() - (Date.now() + 300)) < 1500, 'expiry reported')
    }
    await sleep(wait)
    t.equal(await store.findVersioned(key('ve')), undefined)
    t.type(
      await store.commitIfVersion(key('ve'), bytes('new'), later(60_000), undefined),
      'string',
      'an expired key can be created again',
    )
  })

  t.test(`${options.name}.touch extends the expiry only`, async (t) => {
    if (!canTouch(store)) return t.pass('not run: store has no touch')
    await store.commit(key('t'), bytes('data'), later(400))
    const before = isVersioned(store) ? await store.findVersioned(key('t')) : undefined
    await store.touch(key('t'), later(60_000))
    await sleep(wait)
    t.equal(text(await store.find(key('t'))), 'data', 'still there after the old expiry')
    if (isVersioned(store)) {
      const after = await store.findVersioned(key('t'))
      t.equal(after?.version, before?.version, 'touch does not change the version')
      if (after?.expiry !== undefined) {
        t.ok(after.expiry.getTime() > Date.now() + 50_000, 'the new expiry is reported')
      }
    }
    await store.touch(key('t-missing'), later(60_000))
    t.equal(await store.find(key('t-missing')), undefined, 'touch never creates')
    await store.touch(key('t'), later(200))
    await sleep(wait)
    t.equal(await store.find(key('t')), undefined, 'touch can shorten too')
  })

  t.test(`${options.name} user index lists, prunes and forgets`, async (t) => {
    if (!hasUserIndex(store)) return t.pass('not run: store has no user index')
    const user = `${prefix}user:42`
    const other = `${prefix}user:43`
    for (const k of ['s1', 's2', 's3']) await store.commit(key(k), bytes(k), later(60_000))
    await store.addToUser(user, key('s1'), later(60_000))
    await store.addToUser(user, key('s2'), later(60_000))
    await store.addToUser(other, key('s3'), later(60_000))
    t.same((await store.listUser(user)).sort(), [key('s1'), key('s2')])
    t.same(await store.listUser(other), [key('s3')], 'users are kept apart')
    t.same(await store.listUser(`${prefix}nobody`), [], 'unknown user: empty list')
    await store.addToUser(user, key('s1'), later(60_000))
    t.equal((await store.listUser(user)).length, 2, 'adding twice lists once')
    await store.removeFromUser(user, key('s1'))
    t.same(await store.listUser(user), [key('s2')])
    await store.removeFromUser(user, key('s1'))
    t.pass('removing twice does not throw')
    await store.commit(key('s4'), bytes('s4'), later(200))
    await store.addToUser(user, key('s4'), later(200))
    await sleep(wait)
    t.same(await store.listUser(user), [key('s2')], 'expired members are pruned')
  })

  t.test(`${options.name}.user index survives many members`, async (t) => {
    const s = store
    if (!hasUserIndex(s)) return t.pass('not run: store has no user index')
    const user = `${prefix}user:many`
    const keys = Array.from({ length: 60 }, (_, i) => key(`m${i}`))
    await Promise.all(keys.map((k) => store.commit(k, bytes(k), later(60_000))))
    await Promise.all(keys.map((k) => s.addToUser(user, k, later(60_000))))
    t.same((await s.listUser(user)).sort(), [...keys].sort())
  })

  t.test(`${options.name} serves the manager's user features`, async (t) => {
    if (!hasUserIndex(store)) return t.pass('not run: store has no user index')
    const quiet = { warn() {}, error() {} }
    const manager = new SessionManager({ store, prefix: `${prefix}m:`, logger: quiet })
    const login = async (m: SessionManager, user: string, device: string) => {
      const s = await m.load(undefined)
      m.put(s, 'device', device)
      await m.login(s, user, { device })
      const { token } = await m.commit(s)
      return token ?? ''
    }
    const phone = await login(manager, 'ann', 'phone')
    const laptop = await login(manager, 'ann', 'laptop')
    await login(manager, 'bob', 'tablet')
    const listed = await manager.sessionsOf('ann')
    t.same(listed.map((s) => s.meta.device).sort(), ['laptop', 'phone'], 'sessionsOf lists both, not bob')
    t.notOk(listed.some((s) => s.id === phone || s.id === laptop), 'ids are not tokens')
    const keep = await manager.load(laptop)
    t.equal(await manager.revokeUser('ann', { except: keep }), 1, 'revokeUser ends the other one')
    t.ok((await manager.load(phone)).isNew, 'the revoked token finds nothing')
    t.equal(manager.userId(await manager.load(laptop)), 'ann', 'the kept one lives')
    await manager.destroy(await manager.load(laptop))
    t.same(await manager.sessionsOf('ann'), [], 'destroy leaves the index')
    t.equal((await manager.sessionsOf('bob')).length, 1)

    const racers = [0, 1].map(() => new SessionManager({ store, prefix: `${prefix}race:`, singleSession: true, logger: quiet }))
    const tokens = await Promise.all(racers.map((m, i) => login(m, 'cy', `racer${i}`)))
    const alive = []
    for (const token of tokens) if (!(await racers[0]?.load(token))?.isNew) alive.push(token)
    t.equal(alive.length, 1, 'singleSession: of two racing logins exactly one survives')
    t.equal((await racers[1]?.sessionsOf('cy'))?.length, 1)
  })

  usersContract(t, { name: options.name, store: () => store, prefix: () => prefix, wait })
}
