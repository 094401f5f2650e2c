/**
 * The user features across real processes: two app processes share Redis, etcd,
 * MySQL or Postgres. revokeUser on A makes B's next request anonymous; two logins of one user
 * racing on A and B leave exactly one session with singleSession.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createStore } from '../stores/url.js'
import { Client } from './helpers/http.js'
import { mysqlUrl } from './helpers/mariadb.js'
import { postgresUrl } from './helpers/postgres.js'
import { reachable } from './helpers/service.js'

const stores = {
  redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  etcd: `etcd://${(process.env.ETCD_URL ?? 'http://127.0.0.1:23790').replace(/^https?:\/\//, '')}`,
  mysql: mysqlUrl,
  // A table of this run's own (createStore creates it; dropped at the end).
  postgres: `${postgresUrl}?table=sessions_dist_${randomBytes(4).toString('hex')}`,
}

async function start(storeUrl: string, prefix: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/user-app.ts'], {
    env: { ...process.env, SESSION_STORE: storeUrl, PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (c: Buffer) => {
      out += c
      const m = /ready (http:\/\/\S+)/.exec(out)
      if (m?.[1]) resolve(m[1])
    })
    child.on('exit', (code) => reject(new Error(`app exited ${code}`)))
  })
  return { url, child }
}

async function dropTable(storeUrl: string): Promise<void> {
  const { default: pg } = await import('pg')
  const table = new URL(storeUrl).searchParams.get('table')
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 1 })
  await pool.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => {})
  await pool.end()
}

for (const [name, storeUrl] of Object.entries(stores)) {
  t.test(`two processes on ${name}`, async (t) => {
    const ok = await reachable(t, `${name} (${storeUrl})`, async () => {
      const handle = await createStore(storeUrl)
      try {
        await handle.store.find('probe')
      } finally {
        await handle.close()
      }
    })
    if (!ok) return
    const prefix = `dist-${randomBytes(4).toString('hex')}:`
    const [a, b] = await Promise.all([start(storeUrl, prefix), start(storeUrl, prefix)])
    t.teardown(async () => {
      a.child.kill()
      b.child.kill()
      if (name === 'postgres') await dropTable(storeUrl)
    })
    const body = async (c: Client, path: string) => JSON.parse((await c.get(path)).body)

    t.test('revokeUser on A makes B anonymous', async (t) => {
      const onA = new Client(a.url)
      const onB = new Client(b.url)
      await onA.get('/login?user=ann')
      await onB.get('/login?user=ann')
      t.equal((await body(onB, '/')).user, 'ann')
      const shared = new Client(b.url)
      shared.jar.set('session', onA.jar.get('session') ?? '')
      t.equal((await body(shared, '/')).user, 'ann', 'A\'s session is readable through B')
      t.equal(JSON.parse((await onA.get('/sessions?user=ann')).body).length, 2, 'A lists both sessions')
      const revoked = await onA.get('/revoke?user=ann')
      t.equal(revoked.headers.get('x-revoked'), '1')
      t.equal((await body(onB, '/')).user, null, "B's next request is anonymous")
      t.equal((await body(onA, '/')).user, 'ann', 'A keeps its own')
    })

    t.test('singleSession holds when two logins race on A and B', async (t) => {
      for (let trial = 0; trial < 5; trial++) {
        const user = `racer-${trial}`
        const x = new Client(a.url)
        const y = new Client(b.url)
        await Promise.all([x.get(`/single/login?user=${user}`), y.get(`/single/login?user=${user}`)])
        const alive = [(await body(x, '/single/')).user, (await body(y, '/single/')).user].filter(Boolean)
        t.equal(alive.length, 1, `trial ${trial}: exactly one session survives (${alive.length} alive)`)
        t.equal(JSON.parse((await x.get(`/single/sessions?user=${user}`)).body).length, 1)
      }
    })
  })
}
