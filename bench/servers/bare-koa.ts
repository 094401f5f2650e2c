/** Contender: Koa without sessions (S0). */
import Koa from 'koa'
import { announce, BODY_OK, heap, port } from './common.js'

const app = new Koa()
app.use((ctx) => {
  ctx.body = ctx.path === '/__heap' ? heap() : BODY_OK
})

const server = app.listen(port(), '127.0.0.1', () => announce(server))
