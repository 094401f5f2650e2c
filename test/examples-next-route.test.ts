/**
 * examples/next-route.ts, called the way Next.js calls a route handler: with a Request,
 * its Response read back — a POST that redirects (immutable headers) sets the cookie.
 */
import t from 'tap'
import { GET, manager, POST } from '../examples/next-route.js'

const pairOf = (res: Response) => (res.headers.getSetCookie()[0] ?? '').split(';')[0] ?? ''

t.test('next route: POST counts and redirects with the cookie, GET reads it, reset ends it', async (t) => {
  const post = (cookie: string, body: unknown) =>
    POST(new Request('https://app.test/api/counter', { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) }))
  const first = await post('', {})
  t.equal(first.status, 303)
  t.equal(first.headers.get('location'), 'https://app.test/api/counter')
  const cookie = pairOf(first)
  t.match(first.headers.getSetCookie()[0], /; Secure/, 'https: the cookie is Secure')
  await post(cookie, {})
  const read = await GET(new Request('https://app.test/api/counter', { headers: { cookie } }))
  t.same(await read.json(), { count: 2 })
  t.same(read.headers.getSetCookie(), [], 'a read sets no cookie')
  const bad = await POST(new Request('https://app.test/api/counter', { method: 'POST', headers: { cookie }, body: 'not json' }))
  t.equal(bad.status, 303, 'a malformed body counts as {}')
  const reset = await post(cookie, { reset: true })
  t.match(reset.headers.getSetCookie()[0], /Max-Age=0/)
  t.same(await (await GET(new Request('https://app.test/api/counter', { headers: { cookie } }))).json(), { count: 0 })
  t.equal(manager.inFlight, 0)
})
