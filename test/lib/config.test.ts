import t from 'tap'
import { SessionManager } from '../../lib/index.js'
import { parseDuration } from '../../lib/duration.js'
import { generateToken, hashToken, isToken } from '../../lib/token.js'

t.test('new SessionManager names each bad option and what was expected', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ lifetime: -5 }, /option lifetime: expected a positive number of ms or a duration/],
    [{ lifetime: '3 fortnights' }, /option lifetime: .*"3 fortnights"/],
    [{ idleTimeout: '2h', lifetime: '1h' }, /option idleTimeout: must not exceed lifetime/],
    [{ cookie: { sameSite: 'none', secure: false } }, /option cookie: sameSite 'none' requires secure/],
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
