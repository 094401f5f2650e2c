/**
 * cookie.secure 'auto': Secure over TLS, not over plain HTTP, and from
 * X-Forwarded-Proto only when trustProxy says so. A real HTTPS server with a
 * throwaway self-signed certificate.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import { request } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SessionManager, type SessionManagerOptions } from '../lib/index.js'
import { Client, listen } from './helpers/http.js'

const handler = (manager: SessionManager) =>
  manager.loadAndSave((req, res) => {
    manager.put(req, 'x', 1)
    res.end('ok')
  })

async function cookieOverHttp(options: SessionManagerOptions, headers: Record<string, string> = {}) {
  const app = await listen(handler(new SessionManager(options)))
  try {
    return (await new Client(app.url).get('/', { headers })).setCookies[0] ?? ''
  } finally {
    await app.close()
  }
}

t.test("cookie.secure 'auto' over plain HTTP and behind a proxy", async (t) => {
  t.notMatch(await cookieOverHttp({}), /Secure/, 'plain HTTP: no Secure')
  t.notMatch(await cookieOverHttp({}, { 'x-forwarded-proto': 'https' }), /Secure/, 'X-Forwarded-Proto ignored without trustProxy')
  t.match(await cookieOverHttp({ trustProxy: true }, { 'x-forwarded-proto': 'https' }), /; Secure/, 'trusted proxy says https: Secure')
  t.match(await cookieOverHttp({ trustProxy: true }, { 'x-forwarded-proto': 'https, http' }), /; Secure/, 'the first hop counts')
  t.notMatch(await cookieOverHttp({ trustProxy: true }, { 'x-forwarded-proto': 'http' }), /Secure/)
  t.match(await cookieOverHttp({ cookie: { secure: true } }), /; Secure/, 'secure: true always')
  t.match(await cookieOverHttp({ cookie: { sameSite: 'none', partitioned: true, secure: true } }), /; Secure; SameSite=None; Partitioned/)
  t.throws(() => new SessionManager({ cookie: { sameSite: 'none' } }), { code: 'ERR_CONFIG' }, "sameSite 'none' with secure 'auto' is refused: over plain HTTP the browser would drop it")
})

t.test("cookie.secure 'auto' over real TLS", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'session-tls-'))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, handler(new SessionManager()))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  const setCookie = await new Promise<string>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false }, (res) => {
      res.resume()
      resolve(String(res.headers['set-cookie']?.[0] ?? ''))
    }).on('error', reject).end()
  })
  t.match(setCookie, /^session=[\w-]{43}; .*; Secure; SameSite=Lax$/, 'HTTPS: Secure')
})
