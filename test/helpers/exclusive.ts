/**
 * Take turns between test files that disrupt a shared service (killing cluster
 * nodes): tap runs files in parallel. A lock directory holds the owner's pid; a lock
 * left by a dead process is taken over. Released at the end of the file.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'

export async function takeTurns(t: Test, name: string, waitMs = 240_000): Promise<void> {
  mkdirSync('/tmp/session-manager', { recursive: true })
  const lock = `/tmp/session-manager/${name}.lock`
  for (const start = Date.now(); Date.now() - start < waitMs; await sleep(200)) {
    try {
      mkdirSync(lock)
      writeFileSync(`${lock}/pid`, String(process.pid))
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
  t.teardown(() => rmSync(lock, { recursive: true, force: true }))
}
