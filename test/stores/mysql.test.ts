/**
 * MySQLStore against the main MariaDB (MYSQL_URL, default 127.0.0.1:3306): the
 * conformance suite through a promise-flavour Pool, on a table of its own.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import mysql from 'mysql2/promise'
import { MySQLStore } from '../../stores/mysql.js'
import { storeContract } from '../store-contract.js'
import { reachable } from '../helpers/service.js'

const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const pool = mysql.createPool({ uri: url, connectionLimit: 20, connectTimeout: 3000 })
const table = `sessions_${randomBytes(4).toString('hex')}`

t.teardown(async () => {
  await pool.query(`DROP TABLE IF EXISTS \`${table}\``).catch(() => {})
  await pool.end()
})

if (await reachable(t, `MariaDB at ${url}`, () => pool.query('SELECT 1'))) {
  storeContract(t, {
    name: 'MySQLStore',
    make: () => MySQLStore.create(pool, { table, createTable: true, cleanupInterval: 200 }),
    teardown: (store) => store.close?.(),
    expiryWait: 800,
  })
}
