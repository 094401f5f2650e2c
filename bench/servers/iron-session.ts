/**
 * Peer: iron-session (stateless, the session sealed in the cookie) through node:http.
 * As iron-session is used, a handler that does not need the session never calls
 * `getIronSession` (S1); the others call it and `save()` after a change. 24 h ttl.
 */
import { createServer } from 'node:http'
import { getIronSession, type SessionOptions } from 'iron-session'
import { announce, BODY_OK, concurrencyKey, countKeys, heap, HOT_KEY, pathOf, port, SECRET } from './common.js'

type Data = Record<string, number>
const options: SessionOptions = {
  password: SECRET,
  cookieName: 'sid',
  ttl: 24 * 3600,
  cookieOptions: { secure: false, httpOnly: true, sameSite: 'lax' },
}

const server = createServer(async (req, res) => {
  try {
    const path = pathOf(req.url)
    if (path === '/__heap') return res.end(heap())
    if (path === '/s1') return res.end(BODY_OK)
    const session = await getIronSession<Data>(req, res, options)
    switch (path) {
      case '/s2':
        return res.end(String(session.n ?? 0))
      case '/s3': {
        const n = (session.n ?? 0) + 1
        session.n = n
        await session.save()
        return res.end(String(n))
      }
      case '/s4':
        session.n = 1
        await session.save()
        return res.end(BODY_OK)
      case '/c/put': {
        const key = concurrencyKey(req.url)
        if (key !== undefined) session[key] = 1
        await session.save()
        return res.end(BODY_OK)
      }
      case '/c/count':
        return res.end(String(countKeys(Object.keys(session))))
      case '/c/inc': {
        const n = Number(session[HOT_KEY] ?? 0) + 1
        session[HOT_KEY] = n
        await session.save()
        return res.end(String(n))
      }
      case '/c/hot':
        return res.end(String(session[HOT_KEY] ?? 0))
      default:
        res.statusCode = 404
        return res.end('not found')
    }
  } catch {
    res.statusCode = 500
    res.end('error')
  }
})
server.listen(port(), '127.0.0.1', () => announce(server))
