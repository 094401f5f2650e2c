/**
 * RedisStore round trips, counted by the server itself: a MONITOR connection sees
 * every command Redis executes; the commands whose arguments carry this file's random
 * prefix are counted (the commands a script runs inside Redis are reported with
 * source "lua" and are not round trips, so they are left out). A read is one
 * command, a commit one, and through the manager over HTTP an anonymous request
 * costs none, a read-only request one and a modifying request two.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { SessionManager } from '../../lib/index.js'
import { RedisStore, redisClientOptions } from '../../stores/redis.js'
import { Client, counterApp, listen } from '../helpers/http.js'
import { reachable } from '../helpers/service.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const client = new Redis(url, { ...redisClientOptions, lazyConnect: true })
t.teardown(() => client.disconnect())
if (!(await reachable(t, `Redis at ${url}`, () => client.connect()))) process.exit()

const prefix = `rt-${randomBytes(4).toString('hex')}:`
const store = new RedisStore(client, { prefix })
// A connection in monitor mode, opened with `monitor: true` (Redis#monitor() would
// leave the connection it duplicates open).
const monitor = new Redis(url, { monitor: true })
t.teardown(() => monitor.disconnect())
await new Promise((resolve) => monitor.once('monitoring', resolve))
const seen: string[][] = []
monitor.on('monitor', (_time: string, args: string[], source: string) => {
  if (source !== 'lua') seen.push(args)
})

let marks = 0
/**
 * A marker on the store's own connection: once MONITOR reports it, it has reported
 * everything that connection sent before.
 */
async function sync(): Promise<void> {
  const mark = `mark-${++marks}`
  await client.echo(mark)
  while (!seen.some((args) => args[0] === 'echo' && args[1] === mark)) await new Promise((r) => setTimeout(r, 5))
}
/** The commands of this file that Redis executed while `work` ran, by name. */
async function count(work: () => Promise<unknown>): Promise<string[]> {
  await sync() // earlier commands may still be on their way from MONITOR
  seen.length = 0
  await work()
  await sync()
  return seen.filter((args) => args.some((a) => a.includes(prefix))).map((args) => args[0]!.toLowerCase())
}
const later = () => new Date(Date.now() + 60_000)
const data = Buffer.from('payload')

t.test('RedisStore round trips', async (t) => {
  // The first EVALSHA of a script on a server that has not cached it is followed by
  // one EVAL; warm the scripts up first.
  await store.commit('warm', data, later())
  await store.touch('warm', later())
  await store.addToUser('warm', 'warm', later())
  await store.listUser('warm')

  t.same(await count(() => store.find('missing')), ['get'], 'find of a missing key: one GET')
  let version: string | null = null
  t.same(await count(async () => (version = await store.commitIfVersion('a', data, later(), undefined))), ['set'], 'create: one SET … NX (no script)')
  t.equal(await store.commitIfVersion('a', data, later(), undefined), null, 'a create over the live entry is a conflict')
  t.same(await count(() => store.find('a')), ['get'], 'find: one GET')
  t.same(await count(() => store.findVersioned('a')), ['get'], 'findVersioned: one GET (data, version and expiry)')
  t.same(await count(async () => (version = await store.commitIfVersion('a', data, later(), version ?? ''))), ['evalsha'], 'versioned commit: one EVALSHA')
  t.type(version, 'string')
  t.same(await count(() => store.commitIfVersion('a', data, later(), '0000000000000000')), ['evalsha'], 'a stale version: one EVALSHA, a conflict')
  t.same(await count(() => store.commit('a', data, later())), ['set'], 'plain commit: one SET (no script)')
  t.same(await count(() => store.touch('a', later())), ['evalsha'], 'touch: one EVALSHA')
  t.same(await count(() => store.addToUser('u', 'a', later())), ['evalsha'], 'addToUser: one EVALSHA')
  t.same(await count(() => store.listUser('u')), ['evalsha'], 'listUser (prune + list): one EVALSHA')
  t.same(await count(() => store.removeFromUser('u', 'a')), ['zrem'], 'removeFromUser: one ZREM')
  t.same(await count(() => store.delete('a')), ['unlink'], 'delete: one UNLINK')
  const stale = '0000000000000000'
  const scripts = await count(() => client.script('FLUSH').then(() => store.commitIfVersion('b', data, later(), stale)))
  t.same(scripts, ['evalsha', 'eval'], 'a server without the script gets it once by EVAL')
  t.same(await count(() => store.commitIfVersion('b', data, later(), stale)), ['evalsha'], 'and EVALSHA afterwards')
})

t.test('SessionManager over RedisStore: round trips per HTTP request', async (t) => {
  const manager = new SessionManager({ store: new RedisStore(client, { prefix }), logger: { warn() {}, error() {} } })
  const server = await listen(counterApp(manager))
  t.teardown(server.close)
  const browser = new Client(server.url)
  t.same(await count(() => browser.get('/')), [], 'anonymous request: no command')
  t.same(await count(() => browser.get('/put')), ['set'], 'first write: one command (create: SET … NX)')
  t.same(await count(() => browser.get('/')), ['get'], 'read-only request: one command')
  t.same(await count(() => browser.get('/put')), ['get', 'evalsha'], 'modifying request: a read and one versioned commit')
  t.equal((await browser.get('/')).body, 'n=2')
})

t.test('SessionManager over RedisStore: a user with 1,000 sessions', async (t) => {
  const manager = new SessionManager({ store: new RedisStore(client, { prefix }), prefix: 'many:', logger: { warn() {}, error() {} } })
  for (let i = 0; i < 1000; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        const s = await manager.load(undefined)
        await manager.login(s, 'many')
        await manager.commit(s)
      }),
    )
  }
  await manager.sessionsOf('nobody') // the listUser script may not be cached yet (an earlier test flushed it)
  let listed = 0
  const listing = await count(async () => (listed = (await manager.sessionsOf('many')).length))
  t.equal(listed, 1000)
  // Two round trips: the index, then one pipeline of MGETs of 500 keys.
  t.same(listing, ['evalsha', 'mget', 'mget'], 'sessionsOf: listUser and 2 MGETs (3 commands, 2 round trips)')
  let revoked = 0
  const revoking = await count(async () => (revoked = await manager.revokeUser('many')))
  t.equal(revoked, 1000)
  t.same(revoking.sort(), ['evalsha', 'unlink', 'unlink', 'zrem', 'zrem'], 'revokeUser: listUser, then one pipeline of 2 UNLINKs and 2 ZREMs')
  t.same(await manager.sessionsOf('many'), [])
})
