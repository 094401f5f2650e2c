/**
 * Take turns between test files that disrupt a shared service (killing cluster
 * nodes): tap runs files in parallel. A lock directory holds the owner's pid; a lock
 * left by a dead process is taken over. Released at the end of the file.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'

export async function takeTurns(t: Test, name: string, waitMs = 480_000): Promise<void> {
  mkdirSync('/tmp/session-manager', { recursive: true })
  const lock = `/tmp/session-manager/${name}.lock`
  let held = false
  for (const start = Date.now(); Date.now() - start < waitMs; await sleep(200)) {
    try {
      mkdirSync(lock)
      writeFileSync(`${lock}/pid`, String(process.pid))
      held = true
      break
    } catch {
      let holder = 0
      try {
        holder = Number(readFileSync(`${lock}/pid`, 'utf8'))
      } catch {
        // being written by its new owner
      }
      if (holder > 0) {
        try {
          process.kill(holder, 0)
        } catch {
          rmSync(lock, { recursive: true, force: true })
        }
      }
    }
  }
  // Going on without the lock would kill nodes under another file's feet (four files
  // take turns on the Sentinel group; together they can outlast a short wait).
  if (!held) throw new Error(`takeTurns: ${name} still held by another test file after ${waitMs} ms`)
  t.teardown(() => rmSync(lock, { recursive: true, force: true }))
}
