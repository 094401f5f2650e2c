import t from 'tap'
import { expireCookie, readCookies, serializeCookie } from '../../lib/cookie.js'

t.test('readCookies finds whole names only', async (t) => {
  t.same(readCookies('a=1; session=x; b=2', 'session'), ['x'])
  t.same(readCookies('mysession=x; session_old=y', 'session'), [], 'no partial-name matches')
  t.same(readCookies('session=a;session=b', 'session'), ['a', 'b'], 'duplicates in order')
  t.same(readCookies('session="quoted"', 'session'), ['quoted'])
  t.same(readCookies(undefined, 'session'), [])
  t.same(readCookies(`session=${'x'.repeat(20_000)}`, 'session'), [], 'oversized header ignored')
  t.same(readCookies('session=', 'session'), [''])
})

t.test('serializeCookie writes every attribute', async (t) => {
  const now = Date.UTC(2026, 0, 1)
  const line = serializeCookie(
    'sid',
    'tok',
    { domain: 'example.com', path: '/app', httpOnly: true, secure: true, sameSite: 'strict', partitioned: true, expires: new Date(now + 90_400) },
    now,
  )
  t.equal(line, 'sid=tok; Domain=example.com; Path=/app; Expires=Thu, 01 Jan 2026 00:01:30 GMT; Max-Age=90; HttpOnly; Secure; SameSite=Strict; Partitioned')
  t.equal(serializeCookie('sid', 'tok', { httpOnly: false }), 'sid=tok; Path=/')
  t.match(expireCookie('sid', { path: '/' }), /^sid=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly$/)
})
