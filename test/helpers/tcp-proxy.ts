/**
 * A TCP proxy on a loopback port in front of a real server, for tests that drop a
 * client's connections without touching the server (which other tests share): `cut()`
 * destroys every live connection and refuses new ones until `restore()`;
 * `loseReplies()` keeps forwarding what the client sends but throws away what the
 * server answers (a reply lost with its connection), until `cut()` or `restore()`.
 */
import { type Server, type Socket, connect, createServer } from 'node:net'
import type { AddressInfo } from 'node:net'

/** A running proxy. */
export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: give this to the client instead of the server's address. */
  url: string
  /** Connections accepted so far (a reconnect shows as a new one). */
  readonly accepted: number
  /** Destroy every live connection, and refuse new ones (closed at once) until `restore()`. */
  cut(): void
  /** Forward requests, discard the server's replies (until `cut()` or `restore()`). */
  loseReplies(): void
  /** Accept and forward connections again. */
  restore(): void
  /** Stop listening and destroy every connection. */
  close(): Promise<void>
}

/** Listen on 127.0.0.1 (an OS-chosen port) and forward every connection to `host:port`. */
export async function tcpProxy(host: string, port: number): Promise<TcpProxy> {
  const live = new Set<Socket>()
  let refusing = false
  let losing = false
  let accepted = 0
  const track = (s: Socket) => {
    live.add(s)
    s.on('close', () => live.delete(s))
    s.on('error', () => s.destroy())
  }
  const server: Server = createServer((inbound) => {
    if (refusing) {
      inbound.on('error', () => {})
      inbound.destroy()
      return
    }
    accepted++
    const outbound = connect(port, host)
    track(inbound)
    track(outbound)
    inbound.pipe(outbound)
    outbound.on('data', (chunk: Buffer) => {
      if (!losing) inbound.write(chunk)
    })
    inbound.on('close', () => outbound.destroy())
    outbound.on('close', () => inbound.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port: local } = server.address() as AddressInfo
  const dropAll = () => {
    for (const s of live) s.destroy()
  }
  return {
    url: `http://127.0.0.1:${local}`,
    get accepted() {
      return accepted
    },
    cut() {
      refusing = true
      losing = false
      dropAll()
    },
    loseReplies() {
      losing = true
    },
    restore() {
      refusing = false
      losing = false
    },
    close: () =>
      new Promise<void>((resolve) => {
        dropAll()
        server.close(() => resolve())
      }),
  }
}
