/**
 * Users and tokens: login, the sessions of a user, log out everywhere, API tokens.
 *
 *   node --import tsx examples/users.ts      # then, in another shell:
 *   curl -si -c jar1 'localhost:3000/login?user=ann' ; curl -si -c jar2 'localhost:3000/login?user=ann'
 *   curl -s -b jar1 localhost:3000/sessions           # both sessions, with user agents
 *   curl -s -b jar1 -X POST localhost:3000/logout-everywhere
 *   curl -s -b jar2 localhost:3000/me                 # {"user":null}: logged out
 *   curl -si -H 'Authorization: Bearer <session-token header of a login>' localhost:3000/me
 */
import { createServer } from 'node:http'
import { SessionManager } from '../lib/index.js'
import { createStore } from '../stores/url.js'

const { store } = await createStore(process.env.SESSION_STORE ?? 'memory:')
const sessions = new SessionManager({
  store,
  transport: 'both',
  loadUser: async (id) => ({ id, name: id.toUpperCase() }),
})

createServer(
  sessions.loadAndSave(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    res.setHeader('content-type', 'application/json')
    const userId = sessions.userId(req)
    switch (url.pathname) {
      case '/login':
        await sessions.login(req, url.searchParams.get('user') || 'guest', { userAgent: req.headers['user-agent'] })
        return res.end(JSON.stringify({ user: sessions.userId(req) }))
      case '/sessions':
        return res.end(JSON.stringify(userId ? await sessions.sessionsOf(userId) : []))
      case '/logout-everywhere':
        return res.end(JSON.stringify({ revoked: userId ? await sessions.revokeUser(userId, { except: req }) : 0 }))
      case '/logout':
        await sessions.destroy(req)
        return res.end('{}')
      default:
        return res.end(JSON.stringify({ user: userId ?? null, info: (await sessions.user(req)) ?? null }))
    }
  }),
).listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => console.log('users example on http://127.0.0.1:3000/'))
