/**
 * MySQLStore through a callback-flavour mysql2 Pool (the store unwraps nothing here):
 * the whole conformance suite again, on a table of its own.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import mysql from 'mysql2'
import { MySQLStore } from '../../stores/mysql.js'
import { storeContract } from '../store-contract.js'
import { mysqlUrl } from '../helpers/mariadb.js'
import { reachable } from '../helpers/service.js'

const url = mysqlUrl
const pool = mysql.createPool({ uri: url, connectionLimit: 10, connectTimeout: 3000 })
const table = `sessions_cb_${randomBytes(4).toString('hex')}`

t.teardown(async () => {
  await pool.promise().query(`DROP TABLE IF EXISTS \`${table}\``).catch(() => {})
  await new Promise((resolve) => pool.end(resolve))
})

if (await reachable(t, `MariaDB at ${url}`, () => pool.promise().query('SELECT 1'))) {
  storeContract(t, {
    name: 'MySQLStore(callback Pool)',
    make: () => MySQLStore.create(pool, { table, createTable: true, cleanupInterval: 0 }),
    teardown: (store) => store.close?.(),
    expiryWait: 800,
  })
}
