/** Contender: Fastify without sessions (S0). */
import Fastify from 'fastify'
import { announce, BODY_OK, heap, port } from './common.js'

const app = Fastify({ logger: false })
app.get('/__heap', async () => heap())
app.get('/s0', async () => BODY_OK)

await app.listen({ port: port(), host: '127.0.0.1' })
announce(app.server)
