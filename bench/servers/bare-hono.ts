/** Bare Hono (no session middleware), on Node or Bun: every path answers `ok`. */
import { Hono } from 'hono'
import { BODY_OK } from './common.js'
import { serveHono } from './hono-serve.js'

const app = new Hono()
app.all('*', (c) => c.text(BODY_OK))
await serveHono(app)
