import { WebSocketServer, type WebSocket } from 'ws'
import type { AddressInfo } from 'node:net'
import type { ReceivedCommand, SeedServer } from './control'

/**
 * The routing seed as written: a plain WebSocket server that broadcasts every message of the
 * routing engine (`task:routing`, `agent:status` on Redis in the seed; `publish()` here) as
 * `{ type, payload }` JSON to every connected client. No subscriptions, no positions, no commands.
 */
export type RoutingMessage =
  | { type: 'routing_decision'; payload: { taskId: string; agent: { name: string; strengths: string[]; cost: number; latency: number }; timestamp: number } }
  | { type: 'agent_status'; payload: { name: string; status: 'available' | 'busy' | 'offline'; load: number } }

export interface RoutingServer extends SeedServer {
  publish(message: RoutingMessage): void
}

export async function startRoutingServer(): Promise<RoutingServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  const sockets = new Set<WebSocket>()
  const received: ReceivedCommand[] = []
  let accepted = 0
  wss.on('connection', (ws) => {
    accepted++
    sockets.add(ws)
    ws.on('close', () => sockets.delete(ws))
    ws.on('message', (data) => {
      // The seed defines nothing a client sends; record it so a test can assert nothing came.
      const text = String(data)
      let parsed: unknown = text
      try {
        parsed = JSON.parse(text)
      } catch {
        // kept as text
      }
      const type = typeof parsed === 'object' && parsed !== null && 'type' in parsed ? String((parsed as { type: unknown }).type) : text
      received.push({ type, data: parsed })
    })
  })
  const { port } = wss.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}`,
    get accepted() {
      return accepted
    },
    received,
    connections: () => sockets.size,
    publish(message) {
      const text = JSON.stringify(message)
      for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text)
    },
    dropAll() {
      for (const ws of sockets) ws.terminate()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate()
        wss.close(() => resolve())
      }),
  }
}
