/**
 * Galera node kill under load (issue 20): two app processes on a MySQLStore over a
 * mysql2 PoolCluster of the three nodes of scripts/up-galera.sh, configured as
 * docs/stores/mysql.md says, 200 browsers reading and writing their own sessions, one
 * node SIGKILLed 3 s in (the other two evict it and go on): no request may fail, no
 * acknowledged write may be lost or applied twice. The node is restarted by the up
 * script afterwards and rejoins.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { MySQLStore } from '../../stores/mysql.js'
import { checkAlive, readerApp, startFaultApps, type FaultAppConfig } from '../helpers/fault-apps.js'
import { assertRodeOut, faultLoad, readBack } from '../helpers/fault-load.js'
import { galera } from '../helpers/galera.js'

const g = await galera(t, 'fault') // takes turns with the other Galera files, brings the cluster up
if (g === undefined) process.exit()
const { pools, table, status, pidOf, up } = g
t.teardown(up)

t.test('Galera node SIGKILLed under 200 browsers: no failed request, nothing lost or doubled', async (t) => {
  await MySQLStore.create(pools[0]!, { table, createTable: true, cleanupInterval: 0 })
  const cfg: FaultAppConfig = { kind: 'galera', table, prefix: `fault-${randomBytes(4).toString('hex')}:`, storeTimeout: 10_000 }
  const apps = await startFaultApps(t, cfg)
  let evicted = -1
  const load = await faultLoad({
    urls: apps.map((a) => a.url),
    fault: async () => {
      const killedAt = Date.now()
      process.kill(pidOf(2), 'SIGKILL')
      while (Date.now() - killedAt < 15_000) {
        if (Number(await status(0, 'wsrep_cluster_size').catch(() => 0)) === 2) {
          evicted = Date.now() - killedAt
          return
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    },
  })
  t.ok(evicted > 0, `node 2 evicted ${evicted} ms after the SIGKILL`)
  checkAlive(t, apps)
  const back = await readBack(load, await readerApp(t, cfg))
  assertRodeOut(t, `galera node kill (node 2 evicted after ${evicted} ms)`, load, back)
  const restart = Date.now()
  await up()
  t.equal(Number(await status(1, 'wsrep_cluster_size')), 3, `node 2 rejoined ${Date.now() - restart} ms after restart`)
})
