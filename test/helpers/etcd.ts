/**
 * The etcd client the watch tests use: the settings docs/stores/etcd.md recommends
 * (a 1 s dial timeout, a circuit breaker per host, three attempts), with the watch's
 * reconnect backoff capped at 1 s so a test sees it resume within seconds.
 */
import { Etcd3, isRecoverableError } from 'etcd3'
import { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, retry } from 'cockatiel'
import { Client, type Running } from './http.js'

export function etcdClient(hosts: string | string[]): Etcd3 {
  const recoverable = handleWhen(isRecoverableError)
  return new Etcd3({
    hosts,
    dialTimeout: 1000,
    faultHandling: {
      host: () => circuitBreaker(recoverable, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(recoverable, { maxAttempts: 3 }),
      // etcd3 takes a backoff state (it calls next() itself): the factory's first one.
      watchBackoff: new ExponentialBackoff({ maxDelay: 1000 }).next(),
    },
  })
}

/**
 * The session keys app instances leave in etcd under `prefix`, and a new session made
 * over HTTP: its browser, id and etcd key (found as the one session key that appeared;
 * user-index members hold a NUL).
 */
export function etcdSessions(direct: Etcd3, prefix: string) {
  const stored = async () => direct.getAll().prefix(prefix).keys()
  const create = async (server: Running) => {
    const before = new Set(await stored())
    const client = new Client(server.url)
    const id = (await client.get('/')).body
    const key = (await stored()).find((k) => !before.has(k) && !k.includes('\0')) ?? ''
    return { client, id, key, gone: async () => !(await stored()).includes(key) }
  }
  return { stored, create }
}
