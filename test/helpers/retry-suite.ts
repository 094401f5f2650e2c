/**
 * The retry-window suite every networked store with a `retryWindow` runs, through a TCP
 * proxy in front of its real server (test/helpers/tcp-proxy.ts): calls made while the
 * connection is cut succeed once it is back within the window, and a versioned commit
 * whose answer was lost (applied by the server, the reply thrown away, then the
 * connection cut) is applied once and answered with its own version.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import type { BatchStore, CommitOptions, UserIndexStore, VersionedStore } from '../../lib/store.js'
import type { TcpProxy } from './tcp-proxy.js'

type RetryingStore = VersionedStore & UserIndexStore & BatchStore

export interface RetrySuite {
  /** The store under test, on a client connected through `proxy`. */
  store: RetryingStore
  proxy: TcpProxy
  /** The data stored under `key`, read over a connection that bypasses the proxy. */
  stored(key: string): Promise<string | undefined>
  /** Also lose the answer of a commit that writes a forward (Redis writes its marker in the same script). */
  forward?: boolean
}

const later = () => new Date(Date.now() + 120_000)
const bytes = (s: string) => Buffer.from(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString())

/** How long `work` took, and what it resolved or rejected with. */
export async function settle<T>(work: Promise<T>): Promise<{ value?: T; error?: Error; ms: number }> {
  const begin = Date.now()
  try {
    return { value: await work, ms: Date.now() - begin }
  } catch (err) {
    return { error: err as Error, ms: Date.now() - begin }
  }
}

export function retrySuite(t: Test, name: string, { store, proxy, stored, forward = false }: RetrySuite): void {
  t.test(`${name}: calls made while the connection is cut succeed once it is back within the window`, async (t) => {
    await store.commit('a', bytes('one'), later())
    await store.commit('r', bytes('one'), later()) // read only: 'a' is rewritten by a call racing the read
    const v = (await store.findVersioned('a'))?.version
    proxy.cut()
    const calls = {
      find: settle(store.find('r')),
      commit: settle(store.commit('b', bytes('two'), later())),
      commitIfVersion: settle(store.commitIfVersion('a', bytes('three'), later(), v)),
      fresh: settle(store.commitIfVersion('c', bytes('four'), later(), undefined)),
      addToUser: settle(store.addToUser('u', 'a', later())),
      findMany: settle(store.findMany(['a', 'b'])),
      delete: settle(store.delete('gone')),
    }
    await sleep(1500)
    proxy.restore()
    const results = Object.fromEntries(await Promise.all(Object.entries(calls).map(async ([k, p]) => [k, await p] as const)))
    for (const [call, r] of Object.entries(results)) {
      t.notOk(r.error, `${call} succeeded (${r.ms} ms)${r.error ? `: ${r.error.message}` : ''}`)
      t.ok(r.ms >= 1400 && r.ms < 4500, `${call} waited for the connection, within the window (${r.ms} ms)`)
    }
    t.equal(text(results.find?.value as Uint8Array), 'one', 'the read answers')
    t.type(results.commitIfVersion?.value, 'string', 'the versioned commit succeeded')
    t.type(results.fresh?.value, 'string', 'the new session was created')
    t.equal(text(await store.find('a')), 'three', 'the versioned commit is stored')
    t.equal(text(await store.find('b')), 'two', 'the plain commit is stored')
    t.same(await store.listUser('u'), ['a'], 'the user index has the key')
  })

  const kinds = ['a version', 'no entry (a new session)', ...(forward ? ['a forward'] : [])]
  for (const [i, kind] of kinds.entries()) {
    t.test(`${name}: a commitIfVersion on ${kind} whose answer is lost applies once and answers its own version`, async (t) => {
      const key = `lost-${i}`
      const at = later()
      // The connection is up (and an etcd lease for `at` granted) before answers are lost.
      await store.commit(i === 1 ? `${key}-warm` : key, bytes('before'), at)
      const expected = i === 1 ? undefined : (await store.findVersioned(key))?.version
      const options: CommitOptions = { forward: kind === 'a forward' }
      proxy.loseReplies()
      const pending = settle(store.commitIfVersion(key, bytes('after'), at, expected, options))
      for (let n = 0; n < 40 && (await stored(key)) !== 'after'; n++) await sleep(25)
      t.equal(await stored(key), 'after', 'the server applied the commit')
      proxy.cut()
      await sleep(300)
      proxy.restore()
      const r = await pending
      t.notOk(r.error, `resolved (${r.ms} ms)${r.error ? `: ${r.error.message}` : ''}`)
      t.type(r.value, 'string', 'with a version, not null (a conflict it caused itself)')
      const entry = await store.findVersioned(key)
      t.equal(entry?.version, r.value, 'the version answered is the stored one')
      t.equal(text(entry?.data), 'after', 'the data is the commit')
      t.type(await store.commitIfVersion(key, bytes('next'), later(), r.value as string), 'string', 'the next commit on that version succeeds')
    })
  }
}
