/**
 * createStore(url): schemes it refuses with a clear error, a memory store, a Redis store
 * whose server is down (bounded rejection, and no ioredis "Unhandled error event" lines
 * for a client the app never saw) and one whose server is up.
 */
import t from 'tap'
import { ConfigError } from '../../lib/errors.js'
import type { RedisStore } from '../../stores/redis.js'
import { createStore } from '../../stores/url.js'
import { freePort, reachable } from '../helpers/service.js'

const later = () => new Date(Date.now() + 60_000)
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'

t.test('createStore refuses what it cannot build, naming it', async (t) => {
  await t.rejects(createStore('not a url'), ConfigError)
  await t.rejects(createStore('not a url'), { message: /not a URL: "not a url"/ })
  await t.rejects(createStore('mongodb://127.0.0.1'), { message: /unknown scheme mongodb:/ })
})

t.test('createStore memory: round-trips', async (t) => {
  const { store, close } = await createStore('memory:')
  await store.commit('k', Buffer.from('v'), later())
  t.equal(Buffer.from((await store.find('k')) ?? []).toString(), 'v')
  await close()
})

t.test('createStore redis: with the server down rejects within the bound and prints nothing', async (t) => {
  const printed: string[] = []
  const original = console.error
  console.error = (...args: unknown[]) => void printed.push(args.map(String).join(' '))
  t.teardown(() => {
    console.error = original
  })
  const { store, close } = await createStore(`redis://127.0.0.1:${await freePort()}/0`)
  const started = Date.now()
  await t.rejects(store.find('k'), 'a read rejects')
  const took = Date.now() - started
  // The store retries for its window (5000 ms by default), no attempt outlasts commandTimeout (2000).
  const bound = (store as RedisStore).retryWindow + 2000 + 500
  t.ok(took < bound, `within ${took} ms (< ${bound}: retryWindow + commandTimeout)`)
  await new Promise((resolve) => setTimeout(resolve, 500)) // a few reconnect attempts
  await close()
  t.same(printed.filter((line) => line.includes('[ioredis]')), [], 'no "[ioredis] Unhandled error event" output')
})

t.test('createStore redis: with the server up round-trips', async (t) => {
  const { store, close } = await createStore(redisUrl)
  t.teardown(close)
  if (!(await reachable(t, `Redis at ${redisUrl}`, () => store.find('probe')))) return
  const key = `url-test:${Date.now()}`
  await store.commit(key, Buffer.from('v'), later())
  t.equal(Buffer.from((await store.find(key)) ?? []).toString(), 'v')
  await store.delete(key)
})
