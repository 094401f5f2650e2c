/**
 * waitReplicas' own connection, against the machine's Redis (no replicas): a write that
 * no replica can acknowledge fails with ERR_STORE_REPLICATION while reads on the same
 * store go on, and a process that quits its client exits — the store's write
 * connection ends with the client it was made from, even without `store.close()`.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { RedisStore } from '../../stores/redis.js'
import { quiet, reachable } from '../helpers/service.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const probe = quiet(new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 }))
if (!(await reachable(t, `redis at ${url}`, () => probe.connect()))) process.exit()
t.teardown(() => probe.quit())
const prefix = `test-wait-${randomBytes(4).toString('hex')}:`
const later = () => new Date(Date.now() + 60_000)

t.test('waitReplicas with no replica: the write is refused by name, reads on the same store are not held', async (t) => {
  const client = quiet(new Redis(url, { maxRetriesPerRequest: 1 }))
  const store = new RedisStore(client, { prefix, waitReplicas: 1, waitTimeout: 300 })
  const plain = new RedisStore(client, { prefix })
  t.teardown(async () => {
    await store.close()
    await client.quit()
  })
  await plain.commit('seed', Buffer.from('seed'), later())
  const writes = Array.from({ length: 20 }, (_, i) => store.commit(`w${i}`, Buffer.from('w'), later()).then(() => 'ok', (err: { code?: string }) => err.code))
  const begin = Date.now()
  const read = await store.find('seed')
  t.ok(Date.now() - begin < 150, `a read answers while the writes wait (${Date.now() - begin} ms)`)
  t.same(read && Buffer.from(read).toString(), 'seed')
  t.same(new Set(await Promise.all(writes)), new Set(['ERR_STORE_REPLICATION']), 'every write: ERR_STORE_REPLICATION')
  t.ok(Date.now() - begin <= 2 * 300 + 400, `all 20 known within 2 × waitTimeout (${Date.now() - begin} ms)`)
  t.equal(Buffer.from((await plain.find('w0')) ?? '').toString(), 'w', 'the primary has the write (it may be lost on failover: why it is refused)')
})

t.test('a process that quits its client exits, without store.close()', async (t) => {
  const script = `
    import { Redis } from 'ioredis'
    import { RedisStore } from './stores/redis.ts'
    const client = new Redis(${JSON.stringify(url)}, { maxRetriesPerRequest: 1 })
    const store = new RedisStore(client, { prefix: ${JSON.stringify(prefix)}, waitReplicas: 1, waitTimeout: 100 })
    await store.commit('child', Buffer.from('x'), new Date(Date.now() + 60000)).catch(() => undefined)
    await client.quit()
    console.log('quit')
  `
  const root = new URL('../..', import.meta.url).pathname
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve('still running after 8 s')
    }, 8000)
    child.once('exit', (c) => {
      clearTimeout(timer)
      resolve(c ?? -1)
    })
  })
  t.match(out, /quit/, 'it quit its client')
  t.equal(code, 0, 'and exited by itself')
})
