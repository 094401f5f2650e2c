/** Contender: Express without sessions (S0). */
import express from 'express'
import { announce, BODY_OK, heap, port } from './common.js'

const app = express()
app.disable('etag')
app.disable('x-powered-by')
app.get('/__heap', (_req, res) => { res.end(heap()) })
app.get('/s0', (_req, res) => { res.end(BODY_OK) })

const server = app.listen(port(), '127.0.0.1', () => announce(server))
