/**
 * RedisStore against a standalone Redis (REDIS_URL, default redis://127.0.0.1:6379):
 * the conformance suite, option validation, the key layout with its millisecond expiry,
 * all() with glob characters in the prefix, and the memory a typical session takes.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { SessionManager, StoreError } from '../../lib/index.js'
import { RedisStore, redisClientOptions } from '../../stores/redis.js'
import { batchReplies } from '../../stores/redis-batch.js'
import { waited } from '../../stores/redis-scripts.js'
import { storeContract } from '../store-contract.js'
import { reachable } from '../helpers/service.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const client = new Redis(url, { ...redisClientOptions, lazyConnect: true })
t.teardown(() => client.disconnect())
if (!(await reachable(t, `Redis at ${url}`, () => client.connect()))) process.exit()

const prefix = `test-${randomBytes(4).toString('hex')}:`
const later = (ms = 60_000) => new Date(Date.now() + ms)
t.teardown(async () => {
  // Leave nothing behind (contract entries expire by themselves within a minute).
  const keys = await client.keys(`${prefix}*`)
  if (keys.length > 0) await client.unlink(...keys)
})

storeContract(t, { name: 'RedisStore', make: () => new RedisStore(client, { prefix }) })

t.test('RedisStore validates its options', async (t) => {
  const code = { code: 'ERR_CONFIG' }
  t.throws(() => new RedisStore({} as Redis), code, 'not a client')
  t.throws(() => new RedisStore(client, { waitReplicas: -1 }), code, 'negative waitReplicas')
  t.throws(() => new RedisStore(client, { waitReplicas: 1.5 }), code, 'fractional waitReplicas')
  t.throws(() => new RedisStore(client, { waitTimeout: 0 }), code, 'waitTimeout 0 (WAIT would block for ever)')
  t.throws(() => new RedisStore(client, { scanCount: 0 }), code, 'scanCount 0')
  t.throws(() => new RedisStore(client, { prefix: 1 as unknown as string }), code, 'prefix not a string')
  t.throws(() => new RedisStore(client, { prefx: 'x' } as never), { name: 'ConfigError', code: 'ERR_CONFIG', message: /^invalid RedisStore options: unknown option prefx$/ }, 'unknown option named')
  t.throws(() => new RedisStore(client, { waitTimeout: 2 ** 31 }), { name: 'ConfigError', message: /^invalid RedisStore options: option waitTimeout: expected a whole number of ms from 1 to 2147483647$/ }, 'waitTimeout beyond the 32-bit timer limit')
  const prefixed = new Redis(url, { keyPrefix: 'x:', lazyConnect: true })
  t.throws(() => new RedisStore(prefixed), /keyPrefix/, 'a client keyPrefix is refused')
  prefixed.disconnect()
})

t.test('RedisStore key layout: one string per session, expiring at the exact ms', async (t) => {
  const store = new RedisStore(client, { prefix })
  const expiry = later(90_000)
  const version = await store.commitIfVersion('session:abc', Buffer.from('data'), expiry, undefined)
  const key = `${prefix}s:session:abc`
  t.equal(await client.type(key), 'string')
  const raw = await client.getBuffer(key)
  t.equal(raw?.subarray(0, 8).toString('hex'), version, 'bytes 0-7: the version')
  t.equal(raw?.readDoubleBE(8), expiry.getTime(), 'bytes 8-15: the expiry in ms')
  t.equal(raw?.subarray(16).toString(), 'data', 'then the data')
  t.equal(await client.pexpiretime(key), expiry.getTime(), 'expires at the expiry (PXAT), to the millisecond')
  const touched = later(120_000)
  await store.touch('session:abc', touched)
  const after = await client.getBuffer(key)
  t.equal(after?.subarray(0, 8).toString('hex'), version, 'touch keeps the version')
  t.equal(after?.readDoubleBE(8), touched.getTime(), 'touch rewrites the header expiry')
  t.equal(await client.pexpiretime(key), touched.getTime(), 'and the key expiry')
  t.equal(await store.commitIfVersion('session:abc', Buffer.from('x'), later(), 'not-a-version'), null, 'a foreign version conflicts')
  await store.addToUser('user:1', 'session:abc', expiry)
  const index = `${prefix}u:user:1`
  t.equal(await client.type(index), 'zset', 'the user index is a sorted set')
  t.equal(await client.zscore(index, 'session:abc'), String(expiry.getTime()), 'scored by expiry')
  t.equal(await client.pexpiretime(index), expiry.getTime(), 'and expires with its last member')
})

t.test('RedisStore.all matches the prefix literally (glob characters escaped)', async (t) => {
  const store = new RedisStore(client, { prefix })
  await store.commit('g*[x]?:1', Buffer.from('one'), later())
  await store.commit('g*[x]?:2', Buffer.from('two'), later())
  await store.commit('gZ[x]?:3', Buffer.from('not mine'), later())
  const seen: string[] = []
  for await (const [key] of store.all('g*[x]?:')) seen.push(key)
  t.same(seen.sort(), ['g*[x]?:1', 'g*[x]?:2'])
})

t.test('RedisStore memory per session (MEMORY USAGE)', async (t) => {
  const store = new RedisStore(client, { prefix })
  // A typical session: the manager's JSON record with a user id, a CSRF token and a
  // few values, under a sha256-hex key.
  const session = JSON.stringify({
    created: Date.now(),
    values: { userId: 123456, csrf: randomBytes(32).toString('base64url'), theme: 'dark', cart: [1, 2, 3] },
  })
  const key = `session:${randomBytes(32).toString('hex')}`
  await store.commit(key, Buffer.from(session), later())
  const bytes = await client.memory('USAGE', `${prefix}s:${key}`, 'SAMPLES', 0)
  t.ok(typeof bytes === 'number' && bytes > session.length, `${bytes} bytes for a ${session.length}-byte session`)
  const small = `${prefix}s:small`
  await store.commit('small', Buffer.from('{}'), later())
  const tiny = await client.memory('USAGE', small, 'SAMPLES', 0)
  console.log(
    `# redis memory: ${bytes} bytes per session of ${session.length} data bytes + ${key.length}-byte key; ` +
      `${tiny} bytes for a 2-byte session`,
  )
})

t.test('RedisStore with more waitReplicas than the server has: StoreError ERR_STORE_REPLICATION', async (t) => {
  // WAIT blocks the connection it is sent on: a client of its own.
  const own = new Redis(url, redisClientOptions)
  t.teardown(() => own.disconnect())
  const replicas = Number(/^connected_slaves:(\d+)/m.exec(await own.info('replication'))?.[1])
  const greedy = new RedisStore(own, { prefix, waitReplicas: replicas + 1, waitTimeout: 50 })
  const shortfall = (operation: string) => ({
    name: 'StoreError',
    code: 'ERR_STORE_REPLICATION',
    store: 'RedisStore',
    operation,
    message: new RegExp(`^session store RedisStore failed on ${operation}: Redis WAIT: ${replicas} of ${replicas + 1} replica\\(s\\) acknowledged`),
  })
  const commit = await greedy.commit('wait:a', Buffer.from('a'), later()).catch((err: unknown) => err)
  t.ok(commit instanceof StoreError, 'commit rejects with a StoreError')
  t.match(commit, shortfall('commit'))
  t.equal((await client.getBuffer(`${prefix}s:wait:a`))?.subarray(16).toString(), 'a', 'the primary has the write')
  await t.rejects(greedy.commitIfVersion('wait:b', Buffer.from('b'), later(), undefined), shortfall('commitIfVersion'))
  await t.rejects(greedy.delete('wait:a'), shortfall('delete'))
  const many = await greedy.deleteMany(['wait:b', 'wait:c']).catch((err: unknown) => err)
  t.ok(many instanceof StoreError, 'deleteMany rejects with a StoreError')
  t.match(many, { ...shortfall('deleteMany'), message: /acknowledged the deletes within 50 ms/ })
  // Through the manager the same error reaches the error path unchanged.
  const manager = new SessionManager({ store: greedy, logger: { warn() {}, error() {} } })
  const s = await manager.load(undefined)
  manager.put(s, 'n', 1)
  await t.rejects(manager.commit(s), shortfall('commitIfVersion'), 'a manager commit (versioned) rejects with it')
})

t.test('RedisStore batch replies: a pipeline answered short is StoreError ERR_STORE', async (t) => {
  // ioredis resolves exec() to null (or too few replies) only when the pipeline did not
  // run; no real server produces it on demand, so the reply handling is checked alone.
  const aborted = { name: 'StoreError', code: 'ERR_STORE', store: 'RedisStore', operation: 'findMany', message: /Redis pipeline aborted/ }
  const replies: unknown[] = []
  t.throws(() => batchReplies(null, [0, 1], replies, 'findMany'), aborted, 'null results')
  t.throws(() => batchReplies([[null, 'x']], [0, 1], replies, 'findMany'), aborted, 'fewer replies than commands')
  t.throws(() => batchReplies([[null, 'x'], [null, 'y']], [0, 1], replies, 'findMany', { replicas: 1, timeout: 10 }), aborted, 'no WAIT reply')
  t.throws(() => waited(null, { replicas: 1, timeout: 10 }, 'commit'), { ...aborted, operation: 'commit' }, 'a single command: null results')
  t.throws(() => waited([[null, 1]], { replicas: 1, timeout: 10 }, 'commit'), { ...aborted, operation: 'commit' }, 'a single command: no WAIT reply')
  batchReplies([[null, 'x'], [null, 'y'], [null, 2]], [1, 0], replies, 'findMany', { replicas: 2, timeout: 10 })
  t.same(replies, ['y', 'x'], 'complete replies are spread in command order')
  t.throws(() => batchReplies([[null, 'x'], [null, 0]], [0], [], 'deleteMany', { replicas: 1, timeout: 10 }), { name: 'StoreError', code: 'ERR_STORE_REPLICATION', operation: 'deleteMany' }, 'a WAIT reply under replicas')
})
