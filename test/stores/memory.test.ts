import t from 'tap'
import { MemoryStore } from '../../stores/memory.js'
import { storeContract } from '../store-contract.js'

storeContract(t, {
  name: 'MemoryStore',
  make: () => new MemoryStore({ sweepInterval: 50 }),
  teardown: (store) => store.close?.(),
  expiryWait: 500,
  // In-process: the manager's find/delete-per-key fallback is as fast as a batch would be.
  require: { batch: false },
})

t.test('MemoryStore sweeps expired entries and stays within maxEntries', async (t) => {
  let clock = 1_000_000
  const store = new MemoryStore({ sweepInterval: 0, maxEntries: 100, now: () => clock })
  const bytes = new Uint8Array([1])
  for (let i = 0; i < 50; i++) await store.commit(`short:${i}`, bytes, new Date(clock + 1000))
  for (let i = 0; i < 50; i++) await store.commit(`long:${i}`, bytes, new Date(clock + 60_000))
  t.equal(store.size, 100)
  clock += 2000
  store.sweep()
  t.equal(store.size, 50, 'a sweep drops the expired half')
  for (let i = 0; i < 80; i++) await store.commit(`more:${i}`, bytes, new Date(clock + 60_000))
  t.equal(store.size, 100, 'never more than maxEntries')
  t.equal(await store.find('long:0'), undefined, 'the least recently written were evicted first')
  t.ok(await store.find('more:79'), 'the newest are kept')
})

t.test('MemoryStore: a stored value is a copy of the caller\'s buffer', async (t) => {
  const store = new MemoryStore({ sweepInterval: 0 })
  const data = new Uint8Array([1, 2, 3])
  await store.commit('k', data, new Date(Date.now() + 60_000))
  data[0] = 9
  t.same([...((await store.find('k')) ?? [])], [1, 2, 3])
})

t.test('MemoryStore timer never keeps the process alive; close stops it', async (t) => {
  const { spawnSync } = await import('node:child_process')
  const script = `import { MemoryStore } from '${new URL('../../stores/memory.ts', import.meta.url).pathname}'
    new MemoryStore({ sweepInterval: 10 }); console.log('done')`
  const started = Date.now()
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 })
  t.equal(run.stdout.trim(), 'done')
  t.equal(run.status, 0, 'the process exited on its own')
  t.ok(Date.now() - started < 20_000)
  const store = new MemoryStore({ sweepInterval: 10 })
  await store.close()
  t.pass('close resolves')
})

t.test('MemoryStore options are validated at construction', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ maxEntries: 0 }, /^invalid MemoryStore options: option maxEntries: expected a whole number >= 1$/],
    [{ maxEntries: -5 }, /option maxEntries: expected a whole number >= 1/],
    [{ maxEntries: 1.5 }, /option maxEntries/],
    [{ maxEntries: '100' }, /option maxEntries/],
    [{ sweepInterval: -1 }, /option sweepInterval: expected a whole number of ms from 0 to 2147483647/],
    [{ sweepInterval: 2 ** 31 }, /option sweepInterval/],
    [{ now: 5 }, /option now: expected a function/],
    [{ maxEntry: 10 }, /^invalid MemoryStore options: unknown option maxEntry$/],
  ]
  for (const [options, message] of cases) {
    t.throws(() => new MemoryStore(options as never), { name: 'ConfigError', code: 'ERR_CONFIG', message }, JSON.stringify(options))
  }
  const store = new MemoryStore({ maxEntries: 1, sweepInterval: 0 })
  t.equal(store.size, 0)
})

t.test('MemoryStore evicts the least recently used: a read counts as use', async (t) => {
  const store = new MemoryStore({ sweepInterval: 0, maxEntries: 3 })
  const later = new Date(Date.now() + 60_000)
  const bytes = new Uint8Array([1])
  await store.commit('reader', bytes, later)
  await store.commit('w1', bytes, later)
  await store.commit('w2', bytes, later)
  t.ok(await store.find('reader'), 'the logged-in reader reads')
  await store.commit('w3', bytes, later)
  t.ok(await store.find('reader'), 'a reader is not evicted by newer writers')
  t.equal(await store.find('w1'), undefined, 'the least recently used entry was evicted')
  t.ok(await store.findVersioned('w2'))
  await store.commit('w4', bytes, later)
  t.equal(await store.find('w3'), undefined, 'w3, unread since its write, was the least recently used')
  t.ok(await store.find('w2'), 'findVersioned counts as use too: w2, older than w3, was kept')
  t.equal(store.size, 3)
})

t.test('MemoryStore user index is bounded by the live sessions it lists', async (t) => {
  const store = new MemoryStore({ sweepInterval: 0, maxEntries: 100 })
  const later = new Date(Date.now() + 60_000)
  for (let i = 0; i < 20_000; i++) {
    await store.commit(`s${i}`, new Uint8Array([1]), later)
    await store.addToUser('alice', `s${i}`, later)
  }
  const listed = await store.listUser('alice')
  t.equal(listed.length, 100, 'listUser lists only the 100 sessions still held')
  t.same(listed.sort(), Array.from({ length: 100 }, (_, i) => `s${19_900 + i}`).sort())
  await store.delete('s19999')
  t.notOk((await store.listUser('alice')).includes('s19999'), 'a deleted session leaves the index')
  await store.commit('s19998', new Uint8Array([2]), later)
  t.ok((await store.listUser('alice')).includes('s19998'), 'a rewrite keeps its index membership')
})
