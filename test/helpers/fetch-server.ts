/**
 * A test helper, not library code: serve a Fetch handler from a Node http server,
 * converting IncomingMessage -> Request (with an AbortSignal that fires when the client
 * hangs up) and Response -> ServerResponse (all Set-Cookie lines, body streamed).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { listen, type Running } from './http.js'

/** A Request of a Node request. */
export function toRequest(req: IncomingMessage, res: ServerResponse): Request {
  const headers = new Headers()
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '')
  const aborted = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) aborted.abort()
  })
  const method = req.method ?? 'GET'
  const body = method === 'GET' || method === 'HEAD' ? undefined : (Readable.toWeb(req) as ReadableStream)
  return new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, {
    method,
    headers,
    body,
    signal: aborted.signal,
    ...(body === undefined ? {} : { duplex: 'half' }),
  } as RequestInit)
}

/** Write a Response to a Node response. */
export async function sendResponse(response: Response, res: ServerResponse): Promise<void> {
  res.statusCode = response.status
  for (const [name, value] of response.headers) if (name !== 'set-cookie') res.setHeader(name, value)
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) res.setHeader('set-cookie', cookies)
  if (response.body === null) {
    res.end()
    return
  }
  const reader = response.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (res.destroyed) {
      await reader.cancel()
      return
    }
    res.write(value)
  }
  res.end()
}

/** Listen on 127.0.0.1 with `handler` behind the conversion. */
export function serveFetch(handler: (request: Request) => Response | Promise<Response>): Promise<Running> {
  return listen(
    createServer((req, res) => {
      Promise.resolve()
        .then(() => handler(toRequest(req, res)))
        .then((response) => sendResponse(response, res))
        .catch(() => res.destroy())
    }),
  )
}
