/**
 * test/fixtures/user-app.ts as a real process: started on a store URL and a prefix,
 * resolved once it prints the URL it listens on.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { dropStoreTable, storeReachable } from './server-stores.js'

/** A running app process and its base URL. */
export interface AppProcess {
  url: string
  child: ChildProcess
}

/** Start the user app on `storeUrl` with `prefix`. */
export async function startUserApp(storeUrl: string, prefix: string): Promise<AppProcess> {
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

/**
 * Two user-app processes on the store at `storeUrl`, sharing a fresh prefix that
 * starts with `tag`; killed (and a Postgres table dropped) when `t` ends. Undefined
 * when the store is not reachable (see `storeReachable`).
 */
export async function twoApps(t: Test, name: string, storeUrl: string, tag: string): Promise<[AppProcess, AppProcess] | undefined> {
  if (!(await storeReachable(t, name, storeUrl))) return undefined
  const prefix = `${tag}-${randomBytes(4).toString('hex')}:`
  const [a, b] = await Promise.all([startUserApp(storeUrl, prefix), startUserApp(storeUrl, prefix)])
  t.teardown(async () => {
    a.child.kill()
    b.child.kill()
    await dropStoreTable(storeUrl)
  })
  return [a, b]
}
