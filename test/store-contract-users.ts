/**
 * The conformance suite's part on users at scale: the batch capability (`findMany`,
 * `deleteMany`) and the session limit (`maxSessionsPerUser`) on top of the store.
 * Registered by `storeContract` (test/store-contract.ts); not run on its own.
 */
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import type { SessionManagerOptions } from '../lib/config.js'
import { SessionManager } from '../lib/manager.js'
import { canBatch, hasUserIndex, isVersioned, type Store } from '../lib/store.js'
import { hashToken } from '../lib/token.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))
const later = (ms: number) => new Date(Date.now() + ms)
const quiet = { warn() {}, error() {} }

/** What the users part needs of the suite: the store, a fresh prefix per test, the expiry wait. */
export interface UsersContext {
  name: string
  store: () => Store
  prefix: () => string
  wait: number
}

/** Register the users-at-scale tests on `t`. */
export function usersContract(t: Test, c: UsersContext): void {
  const key = (k: string) => `${c.prefix()}${k}`

  t.test(`${c.name}.findMany reads many keys at once, in order`, async (t) => {
    const store = c.store()
    if (!canBatch(store)) return t.pass('not run: store has no findMany/deleteMany')
    t.same(await store.findMany([]), [], 'no keys: nothing')
    const binary = new Uint8Array([0, 255, 10, 13, 0, 1])
    await store.commit(key('a'), bytes('A'), later(60_000))
    await store.commit(key('b'), binary, later(60_000))
    await store.commit(key('gone'), bytes('old'), later(200))
    await sleep(c.wait)
    const found = await store.findMany([key('a'), key('missing'), key('b'), key('a'), key('gone')])
    t.equal(found.length, 5, 'one answer per key, duplicates included')
    t.equal(text(found[0]?.data), 'A')
    t.equal(found[1], undefined, 'a missing key: undefined')
    t.same([...(found[2]?.data ?? [])], [...binary], 'binary data byte for byte')
    t.equal(text(found[3]?.data), 'A', 'a repeated key answered again')
    t.equal(found[4], undefined, 'an expired key: undefined')
    if (isVersioned(store)) {
      t.equal(found[0]?.version, (await store.findVersioned(key('a')))?.version, 'the version findVersioned gives')
      const next = await store.commitIfVersion(key('a'), bytes('A2'), later(60_000), found[0]?.version)
      t.type(next, 'string', 'a version from findMany commits')
    }
  })

  t.test(`${c.name}.findMany and deleteMany take more keys than one batch`, async (t) => {
    const store = c.store()
    if (!canBatch(store)) return t.pass('not run: store has no findMany/deleteMany')
    const n = 1200
    const keys = Array.from({ length: n }, (_, i) => key(`n${i}`))
    for (let i = 0; i < n; i += 200) {
      await Promise.all(keys.slice(i, i + 200).map((k, j) => store.commit(k, bytes(`v${i + j}`), later(60_000))))
    }
    const asked = [...keys, key('nope-1'), ...keys.slice(0, 3)]
    const found = await store.findMany(asked)
    t.same(found.map((e) => text(e?.data)), asked.map((k) => (k.endsWith('nope-1') ? undefined : `v${k.slice(k.lastIndexOf('n') + 1)}`)))
    await store.deleteMany([...keys.slice(0, 1100), key('nope-2'), keys[0] as string])
    const after = await store.findMany(keys)
    t.equal(after.filter((e) => e !== undefined).length, 100, 'exactly the keys not deleted remain')
    t.equal(text(after[1100]?.data), 'v1100')
    t.equal(after[1099], undefined)
    await store.deleteMany([])
    t.pass('deleting no keys is fine')
  })

  t.test(`${c.name}.findMany and deleteMany with keys full of braces (Cluster hash tags)`, async (t) => {
    const store = c.store()
    if (!canBatch(store)) return t.pass('not run: store has no findMany/deleteMany')
    const odd = ['{tag}a', '{tag}b', 'x{}y', '{', '}{z}', 'é{ü}ß', '{{a}}', 'a}b{c', 'plain'].map(key)
    for (const k of odd) await store.commit(k, bytes(k), later(60_000))
    t.same((await store.findMany(odd)).map((e) => text(e?.data)), odd)
    await store.deleteMany(odd)
    t.same((await store.findMany(odd)).filter(Boolean), [], 'all deleted')
  })

  t.test(`${c.name}.deleteMany with a user forgets the keys in that user's index only`, async (t) => {
    const store = c.store()
    if (!canBatch(store) || !hasUserIndex(store)) return t.pass('not run: store has no batches or no user index')
    const user = key('user:many')
    const other = key('user:other')
    const keys = Array.from({ length: 250 }, (_, i) => key(`u${i}`))
    await Promise.all(keys.map((k) => store.commit(k, bytes(k), later(60_000))))
    await Promise.all(keys.map((k) => store.addToUser(user, k, later(60_000))))
    await store.commit(key('o1'), bytes('o1'), later(60_000))
    await store.addToUser(other, key('o1'), later(60_000))
    await store.deleteMany([...keys.slice(0, 240), key('not-there')], user)
    t.same((await store.listUser(user)).sort(), keys.slice(240).sort(), 'the index lists exactly the rest')
    t.equal((await store.findMany(keys)).filter(Boolean).length, 10, 'and only the rest exist')
    t.same(await store.listUser(other), [key('o1')], "another user's index is untouched")
  })

  const login = async (m: SessionManager, user: string, device: string) => {
    const s = await m.load(undefined)
    await m.login(s, user, { device })
    return (await m.commit(s)).token ?? ''
  }
  const manager = (prefix: string, options: SessionManagerOptions = {}) =>
    new SessionManager({ store: c.store(), prefix, logger: quiet, ...options })

  t.test(`${c.name}: sessionsOf and revokeUser with hundreds of sessions of one user`, async (t) => {
    if (!hasUserIndex(c.store())) return t.pass('not run: store has no user index')
    const m = manager(key('m:'))
    const tokens: string[] = []
    for (let i = 0; i < 300; i += 50) {
      tokens.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => login(m, 'dee', `d${i + j}`)))))
    }
    const listed = await m.sessionsOf('dee')
    t.equal(listed.length, 300, 'every session listed')
    t.equal(new Set(listed.map((s) => s.meta.device)).size, 300, 'each with its own metadata')
    const keep = await m.load(tokens[7] ?? '')
    t.equal(await m.revokeUser('dee', { except: keep }), 299, 'all but one revoked')
    t.same((await m.sessionsOf('dee')).map((s) => s.meta.device), ['d7'])
    t.ok((await m.load(tokens[8] ?? '')).isNew, 'a revoked token finds nothing')
  })

  t.test(`${c.name}: maxSessionsPerUser evictOldest keeps the N newest of racing logins`, async (t) => {
    if (!hasUserIndex(c.store())) return t.pass('not run: store has no user index')
    const prefix = key('evict:')
    const base = Date.now()
    // Five processes' worth of managers; racer i logs in at base + i ms, so the newest two are 3 and 4.
    const racers = Array.from({ length: 5 }, (_, i) => manager(prefix, { maxSessionsPerUser: 2, now: () => base + i }))
    const tokens = await Promise.all(racers.map((m, i) => login(m, 'eve', `r${i}`)))
    const alive: number[] = []
    for (const [i, token] of tokens.entries()) if (!(await racers[0]?.load(token))?.isNew) alive.push(i)
    t.same(alive, [3, 4], 'exactly the two newest logins survive')
    t.same((await racers[1]?.sessionsOf('eve'))?.map((s) => s.meta.device).sort(), ['r3', 'r4'])
  })

  t.test(`${c.name}: maxSessionsPerUser refuse admits N of racing logins, the rest get ERR_SESSION_LIMIT`, async (t) => {
    const store = c.store()
    if (!hasUserIndex(store) || !isVersioned(store)) return t.pass('not run: store has no user index or no versions')
    const prefix = key('refuse:')
    const racers = Array.from({ length: 6 }, () => manager(prefix, { maxSessionsPerUser: 2, onSessionLimit: 'refuse' }))
    const results = await Promise.allSettled(racers.map((m, i) => login(m, 'fay', `r${i}`)))
    const admitted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { code?: string }] : []))
    t.equal(admitted.length, 2, 'two logins admitted')
    t.same(refused.map((e) => e.code), Array(4).fill('ERR_SESSION_LIMIT'), 'the other four refused with the typed error')
    for (const token of admitted) t.equal(racers[0]?.userId(await racers[0].load(token)), 'fay', 'an admitted session lives')
    t.equal((await racers[0]?.sessionsOf('fay'))?.length, 2, 'no refused session is left behind')
    const m = racers[0] as SessionManager
    const late = await m.load(undefined)
    await t.rejects(m.login(late, 'fay'), { code: 'ERR_SESSION_LIMIT' }, 'a later login is refused at once')
    await m.destroy(await m.load(admitted[0] ?? ''))
    t.ok(await login(m, 'fay', 'after-logout'), 'a logout frees a place')
    await t.rejects(login(m, 'fay', 'again'), { code: 'ERR_SESSION_LIMIT' })
    const relog = await m.load(admitted[1] ?? '')
    await m.login(relog, 'fay')
    const { token } = await m.commit(relog)
    t.equal(m.userId(await m.load(token ?? '')), 'fay', 'logging in again on an admitted session keeps its place')
    t.equal((await m.sessionsOf('fay')).length, 2)
  })

  t.test(`${c.name}: refuse survives an unreadable or forged admission record`, async (t) => {
    const store = c.store()
    if (!hasUserIndex(store) || !isVersioned(store)) return t.pass('not run: store has no user index or no versions')
    const prefix = key('forged:')
    const corrupt: unknown[] = []
    const m = manager(prefix, { maxSessionsPerUser: 1, onSessionLimit: 'refuse' })
    m.on('corrupt', (e) => corrupt.push(e))
    await store.commit(`${prefix}user-slots:gus`, new Uint8Array([0xff, 0x00, 0x7b]), later(60_000))
    t.ok(await login(m, 'gus', 'first'), 'garbage in the record holds no place')
    t.equal(corrupt.length, 2, "reported as corrupt by each read (login's check, the commit's claim)")
    await t.rejects(login(m, 'gus', 'second'), { code: 'ERR_SESSION_LIMIT' }, 'the rewritten record counts the admitted one')
    // A record naming another user's live session: that session holds no place of gus.
    const ida = await login(manager(prefix), 'ida', 'ida')
    const idaKey = m.config.prefix + hashToken(ida)
    const codec = m.config.codec
    const forged = codec.encode({ created: Date.now(), deadline: Date.now() + 60_000, expiry: Date.now() + 60_000, values: new Map([['admitted', [idaKey, 42]]]) })
    await store.commit(`${prefix}user-slots:hal`, forged, later(60_000))
    t.ok(await login(m, 'hal', 'hal'), "another user's session and junk entries take no place")
  })

  t.test(`${c.name}: a random user id in the limit does not collide across prefixes`, async (t) => {
    if (!hasUserIndex(c.store()) || !isVersioned(c.store())) return t.pass('not run')
    const user = randomBytes(4).toString('hex')
    const a = manager(key('pa:'), { maxSessionsPerUser: 1, onSessionLimit: 'refuse' })
    const b = manager(key('pb:'), { maxSessionsPerUser: 1, onSessionLimit: 'refuse' })
    t.ok(await login(a, user, 'a'))
    t.ok(await login(b, user, 'b'), 'another prefix has places of its own')
  })
}
