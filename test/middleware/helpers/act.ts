/**
 * The session work every test app does, by path — shared by the Node framework apps
 * (apps.ts) and the app the runtime tests start under Bun and Deno (test/runtimes/app.ts),
 * so it imports nothing of Node's.
 */
import type { SessionManager } from '../../../lib/index.js'

/** A timer that does not hold the process open, where the runtime has `unref` (Deno's timers are numbers). */
const unref = (timer: unknown): void => (timer as { unref?: () => void }).unref?.()

/**
 * The session work of one request, by path: `/put?k=&v=` (default: increment `n`),
 * `/keys`, `/flash?msg=`, `/pop`, `/renew`, `/destroy`, `/forget`, `/remember`,
 * `/throw`, `/redirect` (the app answers 303), `/slow?ms=`, `/never`; `?stream` streams the body; anything else reads `n`.
 * Every app also sets the response headers `?cc=` (Cache-Control) and `?vary=` (Vary)
 * name, the way its framework does.
 */
export async function act(manager: SessionManager, ctx: object, url: URL): Promise<string> {
  const q = url.searchParams
  switch (url.pathname) {
    case '/put': {
      const key = q.get('k')
      if (key === null) manager.put(ctx, 'n', manager.getNumber(ctx, 'n') + 1)
      else manager.put(ctx, key, q.get('v') ?? true)
      break
    }
    case '/keys':
      return JSON.stringify(manager.keys(ctx))
    case '/get':
      return String(manager.get(ctx, q.get('k') ?? 'n') ?? '')
    case '/flash':
      manager.put(ctx, 'flash', q.get('msg') ?? '')
      break
    case '/pop':
      return `flash=${manager.popString(ctx, 'flash')}`
    case '/renew':
      await manager.renewToken(ctx)
      break
    case '/destroy':
      await manager.destroy(ctx)
      break
    case '/forget':
      manager.rememberMe(ctx, false)
      break
    case '/remember':
      manager.rememberMe(ctx, true)
      break
    case '/throw':
      manager.put(ctx, 'n', 1000)
      throw new Error('handler exploded with a secret')
    case '/redirect':
      // The app answers 303 to `/` (a Response it builds itself, immutable headers on the fetch path).
      manager.put(ctx, 'n', manager.getNumber(ctx, 'n') + 1)
      return 'redirect'
    case '/slow':
      // Answers late (the client may have hung up by then), then changes the session.
      await new Promise((resolve) => setTimeout(resolve, Number(q.get('ms') ?? 200)))
      manager.put(ctx, 'late', true)
      break
    case '/never':
      // A handler that never answers: only the request end on close can release it.
      await new Promise((resolve) => unref(setTimeout(resolve, 3000)))
      break
  }
  return `n=${manager.getNumber(ctx, 'n')}`
}
