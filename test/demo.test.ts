/**
 * The README's first command: `npm start` runs the demo on the memory store (and, with
 * SESSION_STORE, on Postgres). Started here as a real process, driven like a browser would.
 */
import { spawn } from 'node:child_process'
import t, { type Test } from 'tap'
import pg from 'pg'
import { Client } from './helpers/http.js'
import { postgresUrl } from './helpers/postgres.js'
import { reachable } from './helpers/service.js'

t.test('npm start serves the demo: count, note, renew, destroy', (t) => drive(t, {}))

t.test('SESSION_STORE=postgres://… npm start serves the same demo from Postgres', async (t) => {
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 1 })
  t.teardown(() => pool.end())
  if (!(await reachable(t, `PostgreSQL at ${postgresUrl}`, () => pool.query('SELECT 1')))) return
  const table = `sessions_demo_${process.pid}`
  t.teardown(() => pool.query(`DROP TABLE IF EXISTS "${table}"`))
  const url = new URL(postgresUrl)
  url.searchParams.set('table', table)
  const rows = async () => Number((await pool.query(`SELECT count(*) AS n FROM "${table}"`)).rows[0]?.n)
  await drive(t, { SESSION_STORE: url.toString() }, async () => {
    t.ok((await rows()) >= 1, 'before destroy, the session is a row in Postgres')
  })
  t.equal(await rows(), 0, 'destroy deleted it there')
})

async function drive(t: Test, env: Record<string, string>, beforeDestroy = async () => {}) {
  const child = spawn('npm', ['start', '--silent'], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'inherit'], detached: true })
  // npm runs node as its child: end the whole process group, not just npm.
  t.teardown(() => {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM')
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk
      const match = /http:\/\/127\.0\.0\.1:\d+\//.exec(out)
      if (match) resolve(match[0])
    })
    child.on('exit', (code) => reject(new Error(`demo exited with ${code}: ${out}`)))
  })
  const browser = new Client(url.slice(0, -1))
  const home = await browser.get('/')
  t.match(home.body, /<strong id="count">0<\/strong>/)
  t.same(home.setCookies, [], 'just looking sets no cookie')
  await browser.request('/count', { method: 'POST' })
  await browser.request('/count', { method: 'POST' })
  t.match((await browser.get('/')).body, /<strong id="count">2<\/strong>/)
  await browser.request('/note', { method: 'POST', body: 'note=hello', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  const noted = await browser.get('/')
  t.match(noted.body, /<em id="note">hello<\/em>/)
  t.match(noted.body, /Note saved\./, 'flash shown once')
  t.notMatch((await browser.get('/')).body, /Note saved\./, 'and gone after')
  const before = browser.jar.get('demo_session')
  await browser.request('/renew', { method: 'POST' })
  t.not(browser.jar.get('demo_session'), before, 'renew sets a new token')
  t.match((await browser.get('/')).body, /<strong id="count">2<\/strong>/, 'same data')
  await beforeDestroy()
  await browser.request('/destroy', { method: 'POST' })
  t.equal(browser.jar.size, 0, 'destroy expires the cookie')
  t.match((await browser.get('/')).body, /<strong id="count">0<\/strong>/)
}
