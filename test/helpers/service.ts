/**
 * Reaching the real servers that scripts/ starts. Outside CI an unreachable server
 * skips the file with a loud message; with CI=true it fails, because a missing service
 * must never pass silently.
 */
import type { Test } from 'tap'

/** True in CI (`CI=true`), where every service must be there. */
export const inCI = process.env.CI === 'true'

/**
 * Run `probe` (bounded by `timeoutMs`); when it fails, fail `t` in CI or skip the
 * whole file elsewhere. Resolves to whether the service answered.
 *
 * @example
 * ```ts
 * if (!(await reachable(t, 'redis at 127.0.0.1:6379', () => client.ping()))) process.exit()
 * ```
 */
export async function reachable(
  t: Test,
  what: string,
  probe: () => Promise<unknown>,
  timeoutMs = 5000,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs)
      }),
    ])
    return true
  } catch (err) {
    const message = `${what} is not reachable (${(err as Error).message}); start it with \`npm run services\``
    if (inCI) {
      t.fail(message)
    } else {
      console.error(`\n!!! SKIPPING: ${message}\n`)
      t.plan(0, message)
    }
    return false
  } finally {
    clearTimeout(timer)
  }
}

/** A loopback port nothing listens on (free when probed): a server that is down. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/**
 * `client` with an `'error'` listener that drops the event: for a test's own ioredis
 * clients, whose failures the test asserts through rejected calls, so that ioredis does
 * not print "[ioredis] Unhandled error event" for each reconnect during a planned outage.
 */
export function quiet<T extends { on(event: 'error', listener: (err: Error) => void): unknown }>(client: T): T {
  client.on('error', () => {})
  return client
}
