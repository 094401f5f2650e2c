/**
 * PostgresStore against the machine's PostgreSQL (PG_URL, default 127.0.0.1:5432): the
 * conformance suite, on a table of its own.
 */
import t from 'tap'
import { PostgresStore } from '../../stores/postgres.js'
import { storeContract } from '../store-contract.js'
import { postgres } from '../helpers/postgres.js'

const db = await postgres(t, 'contract', 20)
if (db !== undefined) {
  const { pool, table } = db
  storeContract(t, {
    name: 'PostgresStore',
    make: () => PostgresStore.create(pool, { table, createTable: true, cleanupInterval: 200 }),
    teardown: (store) => store.close?.(),
    expiryWait: 800,
  })
}
