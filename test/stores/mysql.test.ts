/**
 * MySQLStore against the main MariaDB (MYSQL_URL, default 127.0.0.1:3306): the
 * conformance suite through a promise-flavour Pool, on a table of its own.
 */
import t from 'tap'
import { MySQLStore } from '../../stores/mysql.js'
import { storeContract } from '../store-contract.js'
import { mariadb } from '../helpers/mariadb.js'

const db = await mariadb(t, 'contract', 20)
if (db !== undefined) {
  const { pool, table } = db
  storeContract(t, {
    name: 'MySQLStore',
    make: () => MySQLStore.create(pool, { table, createTable: true, cleanupInterval: 200 }),
    teardown: (store) => store.close?.(),
    expiryWait: 800,
  })
}
