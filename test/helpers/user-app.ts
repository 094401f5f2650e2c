/**
 * test/fixtures/user-app.ts as a real process: started on a store URL and a prefix,
 * resolved once it prints the URL it listens on.
 */
import { type ChildProcess, spawn } from 'node:child_process'

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
