/**
 * MemoryStore write cost at capacity against below capacity, at 100,000 entries (#14):
 * a write that must evict should cost within 2x one that need not.
 *
 *   node --experimental-strip-types bench/memory-capacity.ts   (or: npx tsx bench/memory-capacity.ts)
 */
import { MemoryStore } from '../stores/memory.js'

const N = 100_000
const WRITES = 200_000
const data = new Uint8Array(200)
const expiry = new Date(Date.now() + 3_600_000)

async function perWrite(store: MemoryStore, from: number): Promise<number> {
  const start = process.hrtime.bigint()
  for (let i = 0; i < WRITES; i++) await store.commit(`new:${from + i}`, data, expiry)
  return Number(process.hrtime.bigint() - start) / WRITES
}

async function filled(max: number): Promise<MemoryStore> {
  const store = new MemoryStore({ sweepInterval: 0, maxEntries: max })
  for (let i = 0; i < N; i++) await store.commit(`old:${i}`, data, expiry)
  return store
}

// Below capacity: 100,000 held, room for 200,000 more writes.
const below = await perWrite(await filled(N + WRITES), 0)
// At capacity: 100,000 held and every write evicts one.
const full = await filled(N)
const at = await perWrite(full, 0)
console.log(`entries ${N}, writes ${WRITES} each`)
console.log(`below capacity: ${below.toFixed(0)} ns/write`)
console.log(`at capacity:    ${at.toFixed(0)} ns/write (size stays ${full.size})`)
console.log(`ratio ${(at / below).toFixed(2)}x (goal <= 2x)`)
