/**
 * The `npm start` demo: sessions on the in-memory store, no services needed, or on any
 * store createStore builds from SESSION_STORE.
 * A counter, a note (put/get), a flash message (pop), token renewal and destroy,
 * all visible in a browser at the printed URL.
 *
 *   npm start            # http://127.0.0.1:3000
 *   PORT=8080 npm start
 *   SESSION_STORE=postgres://postgres@127.0.0.1:5432/test npm start   (any URL createStore accepts)
 */
import { createServer, type IncomingMessage } from 'node:http'
import { SessionManager } from '../lib/index.js'
import { createStore } from '../stores/url.js'

const storeUrl = process.env.SESSION_STORE ?? 'memory:'
const { store } = await createStore(storeUrl)
const sessions = new SessionManager({ store, lifetime: '24h', idleTimeout: '30m', cookie: { name: 'demo_session' } })

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

async function form(req: IncomingMessage): Promise<URLSearchParams> {
  let body = ''
  for await (const chunk of req) {
    body += chunk
    if (body.length > 10_000) break
  }
  return new URLSearchParams(body)
}

function page(req: IncomingMessage): string {
  const token = sessions.token(req)
  const flash = sessions.popString(req, 'flash')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>session-manager demo</title>
<style>body{font:16px system-ui;max-width:40rem;margin:2rem auto}form{display:inline}
button{margin:.2rem}.flash{background:#ffd;padding:.5rem}code{background:#eee}</style></head>
<body>
<h1>session-manager demo</h1>
${flash ? `<p class="flash">${escape(flash)}</p>` : ''}
<p>Visits counted in this session: <strong id="count">${sessions.getNumber(req, 'count')}</strong></p>
<p>Note: <em id="note">${escape(sessions.getString(req, 'note')) || '(none)'}</em></p>
<p>Status: <code>${sessions.status(req)}</code>,
token: <code id="token">${token ? `${escape(token.slice(0, 8))}…` : '(no session yet)'}</code>,
deadline: <code>${token ? sessions.deadline(req).toISOString() : '-'}</code></p>
<form method="post" action="/count"><button>Count a visit</button></form>
<form method="post" action="/note"><input name="note" placeholder="a note"><button>Save note</button></form>
<form method="post" action="/renew"><button>Renew token</button></form>
<form method="post" action="/destroy"><button>Destroy session</button></form>
<p>Reloading this page reads the session (one store read) and writes nothing.</p>
</body></html>`
}

const server = createServer(
  sessions.loadAndSave(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (req.method === 'POST') {
      switch (url.pathname) {
        case '/count':
          sessions.put(req, 'count', sessions.getNumber(req, 'count') + 1)
          break
        case '/note':
          sessions.put(req, 'note', (await form(req)).get('note')?.slice(0, 200) ?? '')
          sessions.put(req, 'flash', 'Note saved.')
          break
        case '/renew':
          await sessions.renewToken(req)
          sessions.put(req, 'flash', 'New token, same data.')
          break
        case '/destroy':
          await sessions.destroy(req)
          break
        default:
          res.statusCode = 404
          return res.end('not found')
      }
      res.writeHead(303, { location: '/' })
      return res.end()
    }
    if (url.pathname !== '/') {
      res.statusCode = 404
      return res.end('not found')
    }
    res.setHeader('content-type', 'text/html; charset=utf-8')
    res.end(page(req))
  }),
)

const port = Number(process.env.PORT ?? 3000)
server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  const { port: actual } = server.address() as { port: number }
  console.log(`session-manager demo on http://127.0.0.1:${actual}/ (${store.name ?? 'store'} from ${storeUrl.replace(/\/\/[^@/]*@/, '//')}; Ctrl-C to stop)`)
})
