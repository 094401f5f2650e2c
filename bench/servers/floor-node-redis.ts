/**
 * Floor: what a Redis-backed session cannot go below on this machine — node:http and
 * one ioredis client, the cookie value used as the key as is (no token check, no
 * hashing, no codec beyond a number, no version check, no expiry logic). S2 is one
 * GET, S3 a GET and a SET (so is `/c/inc`, the hot-session write: it keeps no
 * concurrent update, which is the floor's licence), S4 a SET. Not a usable session library: the yardstick the
 * Redis contenders are read against (bench/README.md, "Where targets are missed").
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { Redis } from 'ioredis'
import { announce, BODY_OK, heap, ioredisOptions, pathOf, port, prefix, redisUrl } from './common.js'

const redis = new Redis(redisUrl(), ioredisOptions)
await redis.ping()
const p = prefix()
const TTL = 24 * 3600_000

const sid = (cookie: string | undefined) => /(?:^|;\s*)sid=([^;]+)/.exec(cookie ?? '')?.[1]

const server = createServer(async (req, res) => {
  try {
    const path = pathOf(req.url)
    if (path === '/__heap') return res.end(heap())
    if (path === '/s1') return res.end(BODY_OK)
    let id = sid(req.headers.cookie)
    if (path === '/s2') return res.end(String(Number(id === undefined ? 0 : await redis.get(p + id))))
    const fresh = id === undefined
    id ??= randomBytes(32).toString('base64url')
    let n = 1
    if (path === '/s3' || path === '/c/inc') {
      n = Number(fresh ? 0 : await redis.get(p + id)) + 1
      await redis.set(p + id, String(n), 'PX', TTL)
    } else if (path === '/s4') await redis.set(p + id, '1', 'PX', TTL)
    else {
      res.statusCode = 404
      return res.end('not found')
    }
    if (fresh) res.setHeader('set-cookie', `sid=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400`)
    res.end(path === '/c/inc' ? String(n) : BODY_OK)
  } catch (err) {
    res.statusCode = 500
    res.end(String(err))
  }
})
server.listen(port(), '127.0.0.1', () => announce(server))
