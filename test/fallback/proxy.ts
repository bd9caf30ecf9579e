import { createServer, request as httpRequest, type IncomingMessage } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'

/**
 * A corporate-proxy stand-in in front of a gateway: plain HTTP passes (streamed both ways, so
 * server-sent events flow), WebSocket upgrades are refused with 403 until `allowUpgrades(true)`.
 * Its log says what it did, so a test can assert that the client really went over HTTP.
 */
export interface UpgradeRefusingProxy {
  readonly url: string
  allowUpgrades(allow: boolean): void
  readonly log: { refusedUpgrades: number; passedUpgrades: number; httpRequests: Array<{ method: string; path: string }> }
  close(): Promise<void>
}

export async function startUpgradeRefusingProxy(target: { host: string; port: number }): Promise<UpgradeRefusingProxy> {
  let allow = false
  const log: UpgradeRefusingProxy['log'] = { refusedUpgrades: 0, passedUpgrades: 0, httpRequests: [] }
  const open = new Set<Socket>()
  const server = createServer((req, res) => {
    log.httpRequests.push({ method: req.method ?? '', path: req.url ?? '' })
    const upstream = httpRequest(
      { host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer: IncomingMessage) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        // Flush headers at once: an event stream's first bytes must not wait for a buffer to fill.
        res.flushHeaders()
        answer.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    res.on('close', () => upstream.destroy())
    req.pipe(upstream)
  })
  server.on('connection', (socket) => {
    open.add(socket)
    socket.on('close', () => open.delete(socket))
  })
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (!allow) {
      log.refusedUpgrades++
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    log.passedUpgrades++
    const upstream = connect(target.port, target.host, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`]
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`)
      if (head.length > 0) upstream.write(head)
      socket.pipe(upstream).pipe(socket)
    })
    open.add(upstream)
    upstream.on('close', () => {
      open.delete(upstream)
      socket.destroy()
    })
    upstream.on('error', () => socket.destroy())
    socket.on('error', () => upstream.destroy())
    socket.on('close', () => upstream.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    allowUpgrades(next) {
      allow = next
    },
    log,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
