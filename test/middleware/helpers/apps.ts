/**
 * The same small app in each framework, for the shared behaviour suite and the
 * cross-framework test: every path goes to {@link act}, which does the session work
 * and returns the body, and each framework sends it its own way.
 */
import type { Server } from 'node:http'
import { Readable } from 'node:stream'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'
import type { SessionManager } from '../../../lib/index.js'
import { sessionErrors, sessionMiddleware as expressSessions } from '../../../middleware/express.js'
import { sessionPlugin } from '../../../middleware/fastify.js'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { fetchHandler } from '../../../middleware/fetch.js'
import { sessionMiddleware as honoSessions } from '../../../middleware/hono.js'
import { sessionMiddleware as koaSessions } from '../../../middleware/koa.js'
import { sessionHandler } from '../../../middleware/node.js'
import { serveFetch } from '../../helpers/fetch-server.js'
import { listen, running, type Running } from '../../helpers/http.js'
import { act } from './act.js'

export { act }

/** What an app reports about the errors that reached its framework's error path. */
export interface AppOptions {
  manager: SessionManager
  /** Errors the framework's error path saw. */
  errors: unknown[]
}

/** Build and start one app; the caller closes it. */
export type AppFactory = (options: AppOptions) => Promise<Running>

const urlOf = (path: string | undefined) => new URL(path ?? '/', 'http://x')
const streamOf = (body: string) => Readable.from([body.slice(0, 2), body.slice(2)])

/** The app's own Cache-Control and Vary, from `?cc=` and `?vary=`. */
function ownHeaders(url: URL, set: (name: string, value: string) => void): void {
  const cc = url.searchParams.get('cc')
  const vary = url.searchParams.get('vary')
  if (cc !== null) set('cache-control', cc)
  if (vary !== null) set('vary', vary)
}

/** Node http through `sessionHandler`; errors reach the manager's error handler (its logger). */
export const nodeApp: AppFactory = async ({ manager }) =>
  listen(
    sessionHandler(manager, async (req, res) => {
      const url = urlOf(req.url)
      const body = await act(manager, req, url)
      res.setHeader('content-type', 'text/plain; charset=utf-8')
      ownHeaders(url, (k, v) => res.setHeader(k, v))
      if (url.searchParams.has('stream')) streamOf(body).pipe(res)
      else res.end(body)
    }),
  )

/** Express: the session middleware, an async catch-all, `sessionErrors`, then an error handler. */
export const expressApp: AppFactory = async ({ manager, errors }) => {
  const app = express()
  app.set('env', 'test')
  app.use(expressSessions(manager))
  app.use(async (req, res) => {
    const url = urlOf(req.url)
    const body = await act(manager, req, url)
    ownHeaders(url, (k, v) => res.set(k, v))
    if (url.searchParams.has('stream')) streamOf(body).pipe(res.type('text'))
    else res.type('text').send(body)
  })
  app.use(sessionErrors(manager))
  // A typical last error handler: record, answer 500 with no detail.
  app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    errors.push(err)
    if (res.headersSent) return next(err)
    res.status(500).type('text').send('Internal Server Error')
  })
  return listen(app)
}

/** Fastify: the plugin, then a catch-all async route; errors recorded by an onError hook. */
export const fastifyApp: AppFactory = async ({ manager, errors }) => {
  const app = Fastify({ logger: false })
  await app.register(sessionPlugin, { manager })
  app.addHook('onError', async (_request, _reply, err) => {
    errors.push(err)
  })
  app.all('/*', async (request, reply) => {
    const url = urlOf(request.url)
    const body = await act(manager, request, url)
    reply.type('text/plain; charset=utf-8')
    ownHeaders(url, (k, v) => reply.header(k, v))
    return url.searchParams.has('stream') ? streamOf(body) : body
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    url,
    server: app.server,
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
    },
  }
}

/** Koa: the session middleware, then the catch-all; errors heard on `app.on('error')`. */
export const koaApp: AppFactory = async ({ manager, errors }) => {
  const app = new Koa()
  app.on('error', (err) => errors.push(err))
  app.use(koaSessions(manager))
  app.use(async (ctx) => {
    const url = urlOf(ctx.url)
    const body = await act(manager, ctx, url)
    ctx.type = 'text/plain; charset=utf-8'
    ownHeaders(url, (k, v) => ctx.set(k, v))
    ctx.body = url.searchParams.has('stream') ? streamOf(body) : body
  })
  return listen(app.callback())
}

/** A body as a two-chunk web stream. */
const webStreamOf = (body: string) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(body.slice(0, 2)))
      controller.enqueue(new TextEncoder().encode(body.slice(2)))
      controller.close()
    },
  })

/** A Fetch handler through `fetchHandler`, served by a Node converter; errors reach the manager's logger. */
export const fetchApp: AppFactory = async ({ manager }) =>
  serveFetch(
    fetchHandler(manager, async (request) => {
      const url = urlOf(new URL(request.url).pathname + new URL(request.url).search)
      const body = await act(manager, request, url)
      const headers = new Headers({ 'content-type': 'text/plain; charset=utf-8' })
      ownHeaders(url, (k, v) => headers.set(k, v))
      return new Response(url.searchParams.has('stream') ? webStreamOf(body) : body, { headers })
    }),
  )

/** Hono on Node through @hono/node-server; errors recorded by `app.onError`, answered with a bare 500. */
export const honoApp: AppFactory = async ({ manager, errors }) => {
  const app = new Hono()
  app.onError((err, c) => {
    errors.push(err)
    return c.text('Internal Server Error', 500)
  })
  app.use(honoSessions(manager))
  app.all('*', async (c) => {
    const url = urlOf(new URL(c.req.url).pathname + new URL(c.req.url).search)
    const body = await act(manager, c, url)
    ownHeaders(url, (k, v) => c.header(k, v))
    c.header('content-type', 'text/plain; charset=utf-8')
    return c.body(url.searchParams.has('stream') ? webStreamOf(body) : body)
  })
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server))
  })
  return running(server)
}

/** Every framework by name. */
export const apps: Record<'node' | 'express' | 'fastify' | 'koa' | 'fetch' | 'hono', AppFactory> = {
  node: nodeApp,
  express: expressApp,
  fastify: fastifyApp,
  koa: koaApp,
  fetch: fetchApp,
  hono: honoApp,
}
