/** Contender: node:http without sessions (S0), the floor every node:http contender is measured against. */
import { createServer } from 'node:http'
import { announce, BODY_OK, heap, port } from './common.js'

const server = createServer((req, res) => {
  if (req.url === '/__heap') return res.end(heap())
  res.end(BODY_OK)
})
server.listen(port(), '127.0.0.1', () => announce(server))
