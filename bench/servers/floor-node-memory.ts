/**
 * Floor: what an in-memory session cannot go below on this machine — node:http and one
 * `Map`, the cookie value used as the key as is (no token check, no hashing, no codec
 * beyond a number, no versions, no expiry, no bound on the map). S2 is one lookup, S3
 * a lookup and a set (also `/c/inc`, the hot-session write), S4 a set. Not a usable
 * session library: the yardstick the memory contenders are read against (issue 15).
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { announce, BODY_OK, heap, pathOf, port } from './common.js'

const sessions = new Map<string, number>()
const sid = (cookie: string | undefined) => /(?:^|;\s*)sid=([^;]+)/.exec(cookie ?? '')?.[1]

const server = createServer((req, res) => {
  const path = pathOf(req.url)
  if (path === '/__heap') return res.end(heap())
  if (path === '/s1') return res.end(BODY_OK)
  let id = sid(req.headers.cookie)
  if (path === '/s2') return res.end(String(id === undefined ? 0 : (sessions.get(id) ?? 0)))
  const fresh = id === undefined
  id ??= randomBytes(32).toString('base64url')
  let n = 1
  if (path === '/s3' || path === '/c/inc') {
    n = (fresh ? 0 : (sessions.get(id) ?? 0)) + 1
    sessions.set(id, n)
  } else if (path === '/s4') sessions.set(id, 1)
  else {
    res.statusCode = 404
    return res.end('not found')
  }
  if (fresh) res.setHeader('set-cookie', `sid=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400`)
  res.end(path === '/c/inc' ? String(n) : BODY_OK)
})
server.listen(port(), '127.0.0.1', () => announce(server))
