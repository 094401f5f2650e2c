import t, { type Test } from 'tap'
import { SessionManager } from '../../lib/index.js'
import { parseDuration } from '../../lib/duration.js'
import { generateToken, hashToken, isToken } from '../../lib/token.js'

t.test('new SessionManager names each bad option and what was expected', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ lifetime: -5 }, /option lifetime: expected a positive number of ms or a duration/],
    [{ lifetime: '3 fortnights' }, /option lifetime: .*"3 fortnights"/],
    [{ idleTimeout: '2h', lifetime: '1h' }, /option idleTimeout: must not exceed lifetime/],
    [{ cookie: { sameSite: 'none', secure: false } }, /option cookie.secure: expected true: sameSite 'none' requires Secure/],
    [{ cookie: { name: 'bad name;' } }, /option cookie.name: expected a cookie name/],
    [{ cookie: { sameSite: 'loose' } }, /option cookie.sameSite: expected 'lax', 'strict' or 'none'/],
    [{ transport: 'pigeon' }, /option transport: expected 'cookie', 'header' or 'both'/],
    [{ store: { find() {} } }, /option store: expected a Store/],
    [{ maxSize: 0 }, /option maxSize/],
    [{ prefixx: 'typo' }, /unknown option prefixx/],
    [{ onStoreError: 'ignore' }, /option onStoreError: expected 'fail' or 'anonymous'/],
    [{ codec: { encode() {} } }, /option codec: expected a codec/],
  ]
  for (const [options, message] of cases) {
    t.throws(() => new SessionManager(options as never), { code: 'ERR_CONFIG', name: 'ConfigError', message }, JSON.stringify(options))
  }
})

t.test('the resolved configuration is frozen', async (t) => {
  const manager = new SessionManager({ lifetime: '2h' })
  t.equal(manager.config.lifetime, 7_200_000)
  t.ok(Object.isFrozen(manager.config))
  t.ok(Object.isFrozen(manager.config.cookie))
})

t.test('parseDuration', async (t) => {
  t.equal(parseDuration('30m'), 1_800_000)
  t.equal(parseDuration('1.5h'), 5_400_000)
  t.equal(parseDuration(250), 250)
  for (const bad of ['', '5', '5 years', '-1s', 'm5', Number.NaN, 0, -1, Number.POSITIVE_INFINITY]) {
    t.equal(parseDuration(bad), undefined, String(bad))
  }
})

t.test('tokens: 256 bits, base64url, shape-checked, hashed', async (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 1000; i++) seen.add(generateToken())
  t.equal(seen.size, 1000)
  const token = [...seen][0] ?? ''
  t.ok(isToken(token))
  t.equal(Buffer.from(token, 'base64url').length, 32)
  t.notOk(isToken(`${token}=`))
  t.notOk(isToken(token.slice(1)))
  t.notOk(isToken(undefined))
  t.equal(hashToken(token).length, 43)
  t.not(hashToken(token), token)
})

t.test('new SessionManager validates maxSessionsPerUser, onSessionLimit and the singleSession alias', async (t) => {
  const { CookieStore } = await import('../../stores/cookie.js')
  const { randomBytes } = await import('node:crypto')
  const plain = { find: async () => undefined, commit: async () => {}, delete: async () => {} }
  const indexOnly = { ...plain, addToUser: async () => {}, listUser: async () => [], removeFromUser: async () => {} }
  const cases: Array<[unknown, RegExp]> = [
    [{ maxSessionsPerUser: 0 }, /option maxSessionsPerUser: expected a whole number >= 1/],
    [{ maxSessionsPerUser: 2.5 }, /option maxSessionsPerUser: expected a whole number >= 1/],
    [{ maxSessionsPerUser: '3' }, /option maxSessionsPerUser: expected a whole number >= 1/],
    [{ maxSessionsPerUser: Number.POSITIVE_INFINITY }, /option maxSessionsPerUser/],
    [{ maxSessionsPerUser: 3, onSessionLimit: 'deny' }, /option onSessionLimit: expected 'evictOldest' or 'refuse'/],
    [{ onSessionLimit: 'refuse' }, /option onSessionLimit: needs maxSessionsPerUser/],
    [{ singleSession: true, maxSessionsPerUser: 3 }, /option singleSession: means maxSessionsPerUser 1, but maxSessionsPerUser is 3/],
    [{ singleSession: 'yes' }, /option singleSession: expected a boolean/],
    [{ store: plain, maxSessionsPerUser: 2 }, /option maxSessionsPerUser: .* has no user index/],
    [{ store: plain, singleSession: true }, /option singleSession: .* has no user index/],
    [{ store: indexOnly, maxSessionsPerUser: 2, onSessionLimit: 'refuse' }, /option onSessionLimit: 'refuse' needs a versioned store/],
    [{ store: new CookieStore({ keys: [randomBytes(32)] }), maxSessionsPerUser: 1 }, /option maxSessionsPerUser: .* has no user index/],
  ]
  for (const [options, message] of cases) {
    t.throws(() => new SessionManager(options as never), { code: 'ERR_CONFIG', name: 'ConfigError', message }, JSON.stringify(options))
  }
  t.equal(new SessionManager({ singleSession: true }).config.maxSessionsPerUser, 1, 'singleSession is maxSessionsPerUser 1')
  t.equal(new SessionManager({ singleSession: true }).config.onSessionLimit, 'evictOldest')
  t.equal(new SessionManager({ singleSession: true, maxSessionsPerUser: 1, onSessionLimit: 'refuse' }).config.onSessionLimit, 'refuse')
  t.equal(new SessionManager({ store: indexOnly, maxSessionsPerUser: 4 }).config.maxSessionsPerUser, 4, 'evictOldest needs no versions')
  t.equal(new SessionManager().config.maxSessionsPerUser, undefined, 'no limit by default')
})

const refused = (t: Test, cases: Array<[unknown, RegExp]>) => {
  for (const [options, message] of cases) {
    t.throws(() => new SessionManager(options as never), { code: 'ERR_CONFIG', name: 'ConfigError', message }, JSON.stringify(options))
  }
}

t.test('cookie prefixes, SameSite=None and Partitioned are refused without Secure', async (t) => {
  refused(t, [
    [{ cookie: { name: '__Host-sid', secure: true, domain: 'example.com' } }, /^invalid SessionManager options: option cookie.domain: expected none: the '__Host-' name prefix forbids a Domain$/],
    [{ cookie: { name: '__Host-sid', secure: false } }, /option cookie.secure: expected true: the '__Host-' name prefix requires Secure, got false/],
    [{ cookie: { name: '__Host-sid' } }, /option cookie.secure: expected true: the '__Host-' name prefix requires Secure, got "auto"/],
    [{ cookie: { name: '__Host-sid', secure: true, path: '/app' } }, /option cookie.path: expected '\/': the '__Host-' name prefix requires Path=\/, got "\/app"/],
    [{ cookie: { name: '__Secure-sid', secure: false } }, /option cookie.secure: expected true: the '__Secure-' name prefix requires Secure/],
    [{ cookie: { sameSite: 'none' } }, /option cookie.secure: expected true: sameSite 'none' requires Secure, got "auto"/],
    [{ cookie: { partitioned: true, secure: false } }, /option cookie.secure: expected true: partitioned requires Secure/],
    [{ cookie: { partitioned: true } }, /option cookie.secure: expected true: partitioned requires Secure/],
  ])
  t.doesNotThrow(() => new SessionManager({ cookie: { name: '__Host-sid', secure: true } }))
  t.doesNotThrow(() => new SessionManager({ cookie: { name: '__Secure-sid', secure: true, domain: 'example.com', path: '/a' } }))
  t.doesNotThrow(() => new SessionManager({ cookie: { sameSite: 'none', partitioned: true, secure: true } }))
})

t.test('cookie path and domain must be header-safe', async (t) => {
  refused(t, [
    [{ cookie: { path: '/café/€' } }, /option cookie.path: expected a path starting with '\/' of printable ASCII/],
    [{ cookie: { path: '/a b' } }, /option cookie.path/],
    [{ cookie: { path: '/a\u0000' } }, /option cookie.path/],
    [{ cookie: { path: '/a;Domain=evil' } }, /option cookie.path/],
    [{ cookie: { domain: 'exämple.com' } }, /option cookie.domain: expected a domain name/],
    [{ cookie: { domain: 'a..b' } }, /option cookie.domain/],
    [{ cookie: { domain: '-a.com' } }, /option cookie.domain/],
  ])
  t.doesNotThrow(() => new SessionManager({ cookie: { path: '/caf%C3%A9/', domain: '.example.com' } }))
})

t.test('durations are bounded to what Max-Age, Date and timers hold', async (t) => {
  refused(t, [
    [{ lifetime: '99999999999w' }, /^invalid SessionManager options: option lifetime: expected at most 2147483647000 ms/],
    [{ lifetime: 1e300 }, /option lifetime: expected at most/],
    [{ idleTimeout: '999999d' }, /option idleTimeout: expected at most/],
    [{ storeTimeout: '30d' }, /option storeTimeout: expected at most 2147483647 ms \(2\^31 - 1 ms, the largest timer delay\), got "30d"/],
    [{ storeTimeout: 2 ** 31 }, /option storeTimeout: expected at most/],
    [{ renewGrace: '1e9d' }, /option renewGrace/],
    [{ userCacheTtl: 1e300 }, /option userCacheTtl: expected at most/],
  ])
  t.equal(new SessionManager({ storeTimeout: '24d' }).config.storeTimeout, 24 * 86_400_000)
  t.equal(new SessionManager({ lifetime: '3500w' }).config.lifetime, 3500 * 604_800_000)
})
