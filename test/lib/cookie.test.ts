import t from 'tap'
import { expireCookie, readCookies, serializeCookie } from '../../lib/cookie.js'

t.test('readCookies finds whole names only', async (t) => {
  t.same(readCookies('a=1; session=x; b=2', 'session'), ['x'])
  t.same(readCookies('mysession=x; session_old=y', 'session'), [], 'no partial-name matches')
  t.same(readCookies('session=a;session=b', 'session'), ['a', 'b'], 'duplicates in order')
  t.same(readCookies('session="quoted"', 'session'), ['"quoted"'], 'quotes kept, as the cookie package does')
  t.same(readCookies(' session = x ;', 'session'), ['x'], 'whitespace around the pair trimmed')
  t.same(readCookies('session=a%2Fb', 'session'), ['a/b'], 'percent-decoded as the cookie package does')
  t.same(readCookies('session=%E9', 'session'), ['%E9'], 'an undecodable value kept as sent')
  t.same(readCookies(undefined, 'session'), [])
  t.same(readCookies(`session=${'x'.repeat(20_000)}`, 'session'), [], 'oversized header ignored')
  t.same(readCookies('session=', 'session'), [''])
})

t.test('a cookie is found only as a whole pair of its own', async (t) => {
  t.same(readCookies('pref=dark __Host-sid=EVIL', '__Host-sid'), [], 'not inside another value')
  t.same(readCookies('pref="dark __Host-sid=EVIL"', '__Host-sid'), [], 'not inside a quoted value')
  t.same(readCookies('a=b,__Host-sid=EVIL', '__Host-sid'), [], 'a comma is no separator')
  t.same(readCookies('x=__Host-sid=EVIL', '__Host-sid'), [], 'not as a value')
  t.same(readCookies('pref=dark; __Host-sid=GOOD', '__Host-sid'), ['GOOD'], 'its own pair is found')
  t.same(readCookies('__Host-sid; __Host-sid=GOOD', '__Host-sid'), ['GOOD'], 'a bare name is no pair')
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
