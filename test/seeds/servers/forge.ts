import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import type { ReceivedCommand, SeedServer } from './control'

/**
 * The forge seed as written: one HTTP server with five WebSocket endpoints chosen by path
 * (`/ws/agents`, `/ws/tasks`, `/ws/knowledge`, `/ws/metrics`, `/ws/dashboard`), each
 * broadcasting its own events to its own connections; a text `ping` answered with `pong`; and
 * `GET /ws/stats` with the connection counts per endpoint. No subscriptions beyond the choice
 * of endpoint, no positions, no commands.
 */
export const FORGE_ENDPOINTS = ['/ws/agents', '/ws/tasks', '/ws/knowledge', '/ws/metrics', '/ws/dashboard'] as const
export type ForgeEndpoint = (typeof FORGE_ENDPOINTS)[number]

export interface ForgeServer extends SeedServer {
  /** Sends a message (JSON) to every connection of one endpoint. */
  publish(endpoint: ForgeEndpoint, message: Record<string, unknown>): void
  /** Open connections per endpoint. */
  perEndpoint(): Record<ForgeEndpoint, number>
  /** Text pings answered. */
  readonly pings: number
}

export async function startForgeServer(): Promise<ForgeServer> {
  const http = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/ws/stats') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ total_connections: sockets.size, connections_by_endpoint: perEndpoint(), messages_sent: sent }))
      return
    }
    res.writeHead(404).end()
  })
  const wss = new WebSocketServer({ noServer: true })
  const sockets = new Map<WebSocket, ForgeEndpoint>()
  const received: ReceivedCommand[] = []
  let accepted = 0
  let pings = 0
  let sent = 0
  const perEndpoint = () => {
    const counts = Object.fromEntries(FORGE_ENDPOINTS.map((e) => [e, 0])) as Record<ForgeEndpoint, number>
    for (const endpoint of sockets.values()) counts[endpoint]++
    return counts
  }
  http.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0] as ForgeEndpoint
    if (!FORGE_ENDPOINTS.includes(path)) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      accepted++
      sockets.set(ws, path)
      ws.on('close', () => sockets.delete(ws))
      ws.on('message', (data) => {
        const text = String(data)
        received.push({ type: text === 'ping' ? 'ping' : 'text', data: { endpoint: path, text } })
        if (text === 'ping') {
          pings++
          ws.send('pong')
        }
      })
    })
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()))
  const { port } = http.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}`,
    get accepted() {
      return accepted
    },
    get pings() {
      return pings
    },
    received,
    connections: () => sockets.size,
    perEndpoint,
    publish(endpoint, message) {
      const text = JSON.stringify(message)
      for (const [ws, at] of sockets) {
        if (at === endpoint && ws.readyState === ws.OPEN) {
          ws.send(text)
          sent++
        }
      }
    },
    dropAll() {
      for (const ws of sockets.keys()) ws.terminate()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets.keys()) ws.terminate()
        wss.close()
        http.close(() => resolve())
        http.closeAllConnections()
      }),
  }
}
