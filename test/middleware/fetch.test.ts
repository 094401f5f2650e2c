/**
 * The Fetch adapter through the shared behaviour suite (a Node server converting
 * IncomingMessage <-> Request, a test helper), plus Fetch specifics: immutable
 * responses (Response.redirect, a fetch() response), the header transport, onError,
 * a handler that returns no Response, the app's own cookies, bad arguments.
 */
import t from 'tap'
import { ConfigError, SessionError, SessionManager } from '../../lib/index.js'
import { fetchHandler, type FetchHandler, type FetchHandlerOptions } from '../../middleware/fetch.js'
import { MemoryStore } from '../../stores/memory.js'
import { serveFetch } from '../helpers/fetch-server.js'
import { Client } from '../helpers/http.js'
import { SpyStore } from '../helpers/spy-store.js'
import { behaviour } from './behaviour.js'
import { fetchApp } from './helpers/apps.js'
import { requestEnd } from './request-end.js'

behaviour('fetchHandler', fetchApp)
requestEnd('fetchHandler', fetchApp)

const quiet = { warn() {}, error() {} }

function managerOf(options: ConstructorParameters<typeof SessionManager>[0] = {}) {
  const store = new SpyStore(new MemoryStore({ sweepInterval: 0 }))
  return { store, manager: new SessionManager({ store, logger: quiet, ...options }) }
}

t.test('fetchHandler: refuses anything but a SessionManager and a function', async (t) => {
  const { manager } = managerOf()
  t.throws(() => fetchHandler({} as SessionManager, () => new Response()), ConfigError)
  t.throws(() => fetchHandler(manager, 'x' as unknown as FetchHandler), ConfigError)
})

t.test('fetchHandler: called directly with a Request, no server', async (t) => {
  const { manager } = managerOf()
  const handle = fetchHandler(manager, (request) => {
    manager.put(request, 'n', manager.getNumber(request, 'n') + 1)
    return new Response(`n=${manager.getNumber(request, 'n')}`)
  })
  const first = await handle(new Request('https://app.test/'))
  t.equal(await first.text(), 'n=1')
  const cookie = first.headers.getSetCookie()
  t.equal(cookie.length, 1)
  t.match(cookie[0], /; Secure;|; Secure$/, 'secure: auto sees the https URL')
  const pair = (cookie[0] ?? '').split(';')[0] ?? ''
  const second = await handle(new Request('https://app.test/', { headers: { cookie: pair } }))
  t.equal(await second.text(), 'n=2')
  t.equal(manager.inFlight, 0)
})

t.test('fetchHandler: an immutable Response.redirect gets the cookie on a new Response', async (t) => {
  const { manager } = managerOf()
  const handle = fetchHandler(manager, (request) => {
    manager.put(request, 'user', 'ada')
    return Response.redirect('https://app.test/home', 303)
  })
  const reply = await handle(new Request('https://app.test/login', { method: 'POST' }))
  t.equal(reply.status, 303)
  t.equal(reply.headers.get('location'), 'https://app.test/home')
  t.equal(reply.headers.getSetCookie().length, 1)
  t.equal(reply.headers.get('vary'), 'Cookie')
})

t.test('fetchHandler: a fetch() response (immutable headers) is passed through, streamed, with the cookie', async (t) => {
  const { manager } = managerOf()
  const upstream = await serveFetch(() => new Response('upstream body', { headers: { 'x-up': '1', 'set-cookie': 'up=1; Path=/' } }))
  t.teardown(upstream.close)
  const proxied = await serveFetch(
    fetchHandler(manager, async (request) => {
      manager.put(request, 'seen', true)
      return fetch(upstream.url)
    }),
  )
  t.teardown(proxied.close)
  const reply = await new Client(proxied.url).get('/')
  t.equal(reply.status, 200)
  t.equal(reply.body, 'upstream body')
  t.equal(reply.headers.get('x-up'), '1')
  t.equal(reply.setCookies.length, 2, "upstream's cookie and the session's")
  t.ok(reply.setCookies.some((c) => c.startsWith('up=1')))
  t.ok(reply.setCookies.some((c) => c.startsWith('session=')))
})

t.test("fetchHandler: the app's own cookies are kept next to the session's", async (t) => {
  const { manager } = managerOf()
  const handle = fetchHandler(manager, (request) => {
    manager.put(request, 'n', 1)
    const headers = new Headers()
    headers.append('set-cookie', 'a=1')
    headers.append('set-cookie', 'b=2')
    return new Response('ok', { headers })
  })
  const reply = await handle(new Request('http://app.test/'))
  const cookies = reply.headers.getSetCookie()
  t.equal(cookies.length, 3)
  t.same(cookies.slice(0, 2), ['a=1', 'b=2'])
  t.match(cookies[2], /^session=/)
})

t.test('fetchHandler: header transport — token in the header, private, read back from Authorization', async (t) => {
  const { manager } = managerOf({ transport: 'header' })
  const handle = fetchHandler(manager, (request) => {
    manager.put(request, 'n', manager.getNumber(request, 'n') + 1)
    return new Response(`n=${manager.getNumber(request, 'n')}`, { headers: { 'cache-control': 'public, max-age=60' } })
  })
  const first = await handle(new Request('http://app.test/'))
  const token = first.headers.get(manager.config.tokenHeader)
  t.ok(token !== null && token.length > 20, 'the token header is set')
  t.same(first.headers.getSetCookie(), [], 'no cookie')
  t.equal(first.headers.get('cache-control'), 'max-age=60, private', 'public withdrawn, private added')
  const second = await handle(new Request('http://app.test/', { headers: { authorization: `Bearer ${token}` } }))
  t.equal(await second.text(), 'n=2')
})

t.test('fetchHandler: a malformed cookie is no session and no store call', async (t) => {
  const { manager, store } = managerOf()
  const handle = fetchHandler(manager, (request) => new Response(`n=${manager.getNumber(request, 'n')}`))
  for (const cookie of ['session=%%%', 'session=' + 'A'.repeat(5000), 'session=short; session=', 'session=a b', '=;;;session']) {
    const reply = await handle(new Request('http://app.test/', { headers: { cookie } }))
    t.equal(reply.status, 200)
    t.equal(await reply.text(), 'n=0')
    t.same(reply.headers.getSetCookie(), [])
  }
  t.equal(store.total, 0)
})

t.test('fetchHandler: onError answers store failures and thrown handlers; a failing onError falls back to 500', async (t) => {
  const { manager, store } = managerOf()
  const seen: unknown[] = []
  const options: FetchHandlerOptions = {
    onError: (err) => {
      seen.push(err)
      return new Response('try again', { status: 503 })
    },
  }
  const handle = fetchHandler(manager, (request) => {
    if (new URL(request.url).pathname === '/throw') throw new Error('boom')
    manager.put(request, 'n', 1)
    return new Response('ok')
  }, options)
  store.mode = 'down'
  const down = await handle(new Request('http://app.test/'))
  t.equal(down.status, 503)
  t.same(down.headers.getSetCookie(), [])
  t.match(seen.at(-1), { code: 'ERR_STORE', operation: 'commit' })
  store.mode = 'up'
  const thrown = await handle(new Request('http://app.test/throw'))
  t.equal(thrown.status, 503)
  t.match(seen.at(-1), { message: 'boom' })
  const bad = fetchHandler(manager, () => new Response('ok'), {
    onError: () => {
      throw new Error('handler of handlers broke')
    },
  })
  store.mode = 'down'
  const withCookie = await handle(new Request('http://app.test/'))
  t.equal(withCookie.status, 503)
  const fallback = await fetchHandler(manager, () => {
    throw new Error('x')
  }, { onError: async () => Promise.reject(new Error('rejected')) })(new Request('http://app.test/'))
  t.equal(fallback.status, 500)
  t.equal(await fallback.text(), 'Internal Server Error')
  t.equal((await bad(new Request('http://app.test/'))).status, 200, 'no session work: nothing to fail')
  t.equal(manager.inFlight, 0)
})

t.test('fetchHandler: a handler returning no Response reaches onError as SessionError ERR_RESPONSE', async (t) => {
  const manager = new SessionManager({ logger: quiet })
  let seen: unknown
  const handle = fetchHandler(manager, (() => 'not a response') as unknown as FetchHandler, {
    onError: (err) => {
      seen = err
      return new Response('bad handler', { status: 502 })
    },
  })
  const res = await handle(new Request('http://app.test/'))
  t.equal(res.status, 502, 'onError answers')
  t.ok(seen instanceof SessionError, 'a SessionError')
  t.match(seen, { code: 'ERR_RESPONSE', message: /^fetchHandler: the handler returned string, not a Response$/ })
})

t.test("fetchHandler: onStoreError 'anonymous' serves a load failure without a session", async (t) => {
  const { manager, store } = managerOf({ onStoreError: 'anonymous' })
  const handle = fetchHandler(manager, (request) => new Response(`n=${manager.getNumber(request, 'n')}`))
  const write = fetchHandler(manager, (request) => {
    manager.put(request, 'n', 5)
    return new Response('ok')
  })
  const first = await write(new Request('http://app.test/'))
  const pair = (first.headers.getSetCookie()[0] ?? '').split(';')[0] ?? ''
  store.mode = 'down'
  const reply = await handle(new Request('http://app.test/', { headers: { cookie: pair } }))
  t.equal(reply.status, 200)
  t.equal(await reply.text(), 'n=0')
})

t.test('fetchHandler: a handler that returns no Response is a failure, not committed', async (t) => {
  const { manager, store } = managerOf()
  const handle = fetchHandler(manager, ((request: Request) => {
    manager.put(request, 'n', 1)
    return 'not a response'
  }) as unknown as FetchHandler)
  const reply = await handle(new Request('http://app.test/'))
  t.equal(reply.status, 500)
  t.equal(store.total, 0)
})

t.test('fetchHandler: an immutable response whose body was already read is a 500, never a rejection', async (t) => {
  const { manager } = managerOf()
  const handle = fetchHandler(manager, async (request) => {
    manager.put(request, 'n', 1)
    const upstream = await fetch('data:text/plain,hello')
    await upstream.text()
    return upstream
  })
  const reply = await handle(new Request('http://app.test/'))
  t.equal(reply.status, 500)
  t.equal(manager.inFlight, 0)
})
