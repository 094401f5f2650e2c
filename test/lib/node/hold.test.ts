/**
 * holdResponse through a real Node server: nothing reaches the client before the
 * commit finished, streaming works, and held writes keep their order.
 */
import { Readable } from 'node:stream'
import { request } from 'node:http'
import t from 'tap'
import { SessionManager } from '../../../lib/index.js'
import { MemoryStore } from '../../../stores/memory.js'
import { Client, listen } from '../../helpers/http.js'
import { SpyStore } from '../../helpers/spy-store.js'

t.test('loadAndSave: the body is not released before the store write finished', async (t) => {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 150 })
  let committedAt = 0
  const inner = store.commitIfVersion?.bind(store)
  store.commitIfVersion = async (...args) => {
    const out = (await inner?.(...args)) ?? null
    committedAt = Date.now()
    return out
  }
  const manager = new SessionManager({ store })
  const app = await listen(
    manager.loadAndSave((req, res) => {
      manager.put(req, 'x', 1)
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('first ')
      res.end('last')
    }),
  )
  t.teardown(app.close)
  const firstByteAt = await new Promise<number>((resolve, reject) => {
    request(app.url, (res) => res.once('data', () => resolve(Date.now())).resume()).on('error', reject).end()
  })
  t.ok(committedAt > 0, 'the commit happened')
  t.ok(firstByteAt >= committedAt, `first byte ${firstByteAt - committedAt} ms after the commit resolved`)
})

t.test('loadAndSave: streamed bodies arrive whole and in order, with the cookie', async (t) => {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }), { delay: 20 })
  const manager = new SessionManager({ store })
  const chunks = Array.from({ length: 200 }, (_, i) => `chunk-${i};`)
  const app = await listen(
    manager.loadAndSave((req, res) => {
      manager.put(req, 'streamed', true)
      if (req.url === '/pipe') {
        Readable.from(chunks).pipe(res)
        return
      }
      for (const c of chunks) res.write(c)
      res.end()
    }),
  )
  t.teardown(app.close)
  for (const path of ['/write', '/pipe']) {
    const client = new Client(app.url)
    const reply = await client.get(path)
    t.equal(reply.body, chunks.join(''), `${path}: every chunk, in order`)
    t.equal(reply.setCookies.length, 1, `${path}: Set-Cookie on the streamed response`)
  }
})

t.test('loadAndSave: a read-only response goes out with no added store call or delay', async (t) => {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }))
  const manager = new SessionManager({ store })
  const app = await listen(
    manager.loadAndSave((req, res) => {
      if (req.url === '/put') manager.put(req, 'x', 1)
      res.setHeader('vary', 'Accept')
      res.setHeader('cache-control', 'private')
      res.end(String(manager.getNumber(req, 'x')))
    }),
  )
  t.teardown(app.close)
  const client = new Client(app.url)
  const first = await client.get('/put')
  t.equal(first.headers.get('vary'), 'Accept, Cookie', 'Vary merged, not replaced')
  t.equal(first.headers.get('cache-control'), 'private, no-cache="Set-Cookie"')
  store.reset()
  const read = await client.get('/')
  t.equal(read.body, '1')
  t.same(store.calls, { findVersioned: 1 })
  t.equal(read.headers.get('vary'), 'Accept', 'untouched when no cookie is set')
})

t.test('loadAndSave keeps cookies the handler set itself', async (t) => {
  const manager = new SessionManager()
  const app = await listen(
    manager.loadAndSave((req, res) => {
      res.setHeader('set-cookie', ['theme=dark; Path=/'])
      manager.put(req, 'x', 1)
      res.end('ok')
    }),
  )
  t.teardown(app.close)
  const reply = await new Client(app.url).get('/')
  t.equal(reply.setCookies.length, 2)
  t.equal(reply.setCookies[0], 'theme=dark; Path=/')
  t.match(reply.setCookies[1], /^session=/)
})

t.test('loadAndSave: a change made while the body is being rendered is committed with it', async (t) => {
  // `res.end(render(req))` looks `end` up before `render` runs: the hold must already be there.
  const manager = new SessionManager({ store: new MemoryStore({ sweepInterval: 0 }) })
  const render = (req: Parameters<typeof manager.put>[0]) => {
    const flash = manager.popString(req, 'flash')
    manager.put(req, 'views', manager.getNumber(req, 'views') + 1)
    return `views=${manager.getNumber(req, 'views')} flash=${flash}`
  }
  const app = await listen(
    manager.loadAndSave((req, res) => {
      if (req.url === '/flash') manager.put(req, 'flash', 'hi')
      res.setHeader('content-type', 'text/plain')
      res.end(render(req))
    }),
  )
  t.teardown(app.close)
  const client = new Client(app.url)
  const first = await client.get('/')
  t.equal(first.status, 200)
  t.equal(first.body, 'views=1 flash=', 'a new session, created inside render')
  t.equal(first.setCookies.length, 1, 'and its cookie on that response')
  t.equal((await client.get('/flash')).body, 'views=2 flash=hi')
  const third = await client.get('/')
  t.equal(third.body, 'views=3 flash=', 'a loaded session changed inside render: saved, flash popped once')
  t.equal(third.headers.get('content-type'), 'text/plain', 'headers intact')
})

t.test('loadAndSave: a change after the response started is reported, not silently lost', async (t) => {
  const warnings: string[] = []
  const manager = new SessionManager({
    store: new MemoryStore({ sweepInterval: 0 }),
    logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
  })
  const app = await listen(
    manager.loadAndSave((req, res) => {
      res.end('sent')
      manager.put(req, 'late', true)
    }),
  )
  t.teardown(app.close)
  const reply = await new Client(app.url).get('/')
  t.equal(reply.body, 'sent')
  t.same(reply.setCookies, [], 'nothing could be committed')
  t.match(warnings, [/changed after the response started/])
})
