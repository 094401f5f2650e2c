/**
 * examples/passport.ts started as a real process and driven like a browser: the login
 * form's CSRF token, a wrong password flashed, a login, the protected page, logout.
 */
import { spawn } from 'node:child_process'
import t from 'tap'
import { Client } from '../helpers/http.js'

t.test('examples/passport.ts: log in over HTTP with passport on this library', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/passport.ts'], {
    env: { ...process.env, PORT: '0', SESSION_STORE: 'memory:' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => {
    child.kill('SIGTERM')
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk
      const match = /http:\/\/127\.0\.0\.1:\d+\//.exec(out)
      if (match) resolve(match[0].slice(0, -1))
    })
    child.on('exit', (code) => reject(new Error(`example exited with ${code}: ${out}`)))
  })
  const browser = new Client(url)
  t.equal((await browser.get('/')).headers.get('location'), '/login')
  const csrf = () => browser.get('/login').then((r) => /name="_csrf" value="([^"]+)"/.exec(r.body)?.[1] ?? '')
  const post = (path: string, body: Record<string, string>) =>
    browser.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() })
  t.equal((await post('/login', { username: 'ada', password: 'lovelace' })).status, 403, 'no CSRF token: refused')
  const wrong = await post('/login', { _csrf: await csrf(), username: 'ada', password: 'nope' })
  t.equal(wrong.headers.get('location'), '/login')
  t.match((await browser.get('/login')).body, /Wrong user or password\./)
  const before = browser.jar.get('session')
  const token = await csrf()
  const login = await post('/login', { _csrf: token, username: 'ada', password: 'lovelace' })
  t.equal(login.headers.get('location'), '/')
  t.not(browser.jar.get('session'), before, 'new session token at login')
  const home = await browser.get('/')
  t.match(home.body, /<p id="hello">Hello Ada<\/p>/)
  const fresh = /name="_csrf" value="([^"]+)"/.exec(home.body)?.[1] ?? ''
  t.not(fresh, token, 'the CSRF token rotated at login')
  t.equal((await post('/logout', { _csrf: token })).status, 403, 'the pre-login CSRF token is refused')
  t.equal((await post('/logout', { _csrf: fresh })).headers.get('location'), '/login')
  t.equal((await browser.get('/')).headers.get('location'), '/login', 'logged out')
})
