/**
 * Contender: this library through node:http (`manager.loadAndSave`), on the store
 * `BENCH_STORE` names (memory, redis, cookie).
 */
import { createServer } from 'node:http'
import { announce, BODY_OK, concurrencyKey, countKeys, heap, HOT_KEY, pathOf, port } from './common.js'
import { ourManager } from './ours-store.js'

const { manager, stats } = await ourManager()

const sessions = manager.loadAndSave((req, res) => {
  switch (pathOf(req.url)) {
    case '/s1':
      return res.end(BODY_OK)
    case '/s2':
      return res.end(String(manager.getNumber(req, 'n')))
    case '/s3': {
      const n = manager.getNumber(req, 'n') + 1
      manager.put(req, 'n', n)
      return res.end(String(n))
    }
    case '/s4':
      manager.put(req, 'n', 1)
      return res.end(BODY_OK)
    case '/c/put': {
      const key = concurrencyKey(req.url)
      if (key !== undefined) manager.put(req, key, 1)
      return res.end(BODY_OK)
    }
    case '/c/count':
      return res.end(String(countKeys(manager.keys(req))))
    case '/c/inc':
      return res.end(String(manager.increment(req, HOT_KEY)))
    case '/c/hot':
      return res.end(String(manager.getNumber(req, HOT_KEY)))
    default:
      res.statusCode = 404
      return res.end('not found')
  }
})

const server = createServer((req, res) => {
  // Measurement endpoints stay outside the session wrapper.
  if (req.url === '/__heap') return res.end(heap())
  if (req.url === '/__stats') return res.end(stats())
  return sessions(req, res)
})
server.listen(port(), '127.0.0.1', () => announce(server))
