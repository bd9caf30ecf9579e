import { WebSocketServer, type WebSocket } from 'ws'
import type { AddressInfo } from 'node:net'
import type { ReceivedCommand, SeedServer } from './control'

/**
 * The webgui seed (ADR-002) as written: a WebSocket server pushing
 * `{ type, timestamp, session_id, data }` frames from the Redis channels
 * `webgui:session:{id}`, `webgui:agent:{name}`, `webgui:global`, `webgui:user:{id}`
 * (`publish()` here), with permission filtering: a user receives only their own
 * `webgui:user:{id}` and the sessions they own. The user is named by a token in the query
 * string (`?token=`), as a FastAPI WebSocket route reads it; clients choose channels with
 * `{ type: 'subscribe' | 'unsubscribe', channel | channels }`, answered with
 * `subscribed { channels, denied }` / `unsubscribed { channels }` (and an `error` naming each
 * refused channel), and keep alive with `{ type: 'ping' }`.
 */
export interface WebguiMessage {
  type: string
  timestamp: string
  session_id: string | null
  data: Record<string, unknown>
}

export interface WebguiServer extends SeedServer {
  /** Pushes a message to every connection subscribed to a `webgui:*` channel and allowed to see it. */
  publish(channel: string, message: WebguiMessage): void
  /** Channels each open connection is subscribed to. */
  subscriptions(): string[][]
  /** Subscribe attempts refused by permission filtering. */
  readonly refused: number
}

export interface WebguiAccess {
  /** token → user id */
  tokens: Record<string, string>
  /** session id → owning user id */
  sessions: Record<string, string>
}

export async function startWebguiServer(access: WebguiAccess): Promise<WebguiServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  const clients = new Map<WebSocket, { user: string; channels: Set<string> }>()
  const received: ReceivedCommand[] = []
  let accepted = 0
  let refused = 0

  const allowed = (user: string, channel: string): boolean => {
    if (channel === 'webgui:global' || channel.startsWith('webgui:agent:')) return true
    if (channel.startsWith('webgui:user:')) return channel === `webgui:user:${user}`
    if (channel.startsWith('webgui:session:')) return access.sessions[channel.slice('webgui:session:'.length)] === user
    return false
  }
  const frame = (type: string, data: Record<string, unknown>) => JSON.stringify({ type, timestamp: new Date().toISOString(), session_id: null, data })

  wss.on('connection', (ws, req) => {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? ''
    const user = Object.prototype.hasOwnProperty.call(access.tokens, token) ? access.tokens[token] : undefined
    if (user === undefined) {
      ws.close(1008, 'invalid token')
      return
    }
    accepted++
    const client = { user, channels: new Set<string>() }
    clients.set(ws, client)
    ws.on('close', () => clients.delete(ws))
    ws.on('message', (raw) => {
      let message: { type?: unknown; channel?: unknown }
      try {
        message = JSON.parse(String(raw)) as typeof message
      } catch {
        ws.send(frame('error', { code: 'bad_request', message: 'expected JSON' }))
        return
      }
      received.push({ type: String(message.type), data: message })
      // A channel, or a list of them; answered with what was granted and what was denied.
      const listed = (message as { channels?: unknown }).channels
      const channels = Array.isArray(listed) ? listed.filter((c): c is string => typeof c === 'string') : typeof message.channel === 'string' ? [message.channel] : []
      if (message.type === 'ping') ws.send(frame('pong', {}))
      else if (message.type === 'subscribe') {
        const denied: string[] = []
        for (const channel of channels) {
          if (allowed(client.user, channel)) client.channels.add(channel)
          else {
            refused++
            denied.push(channel)
            ws.send(frame('error', { code: 'forbidden', message: `not allowed to subscribe to ${channel}`, channel }))
          }
        }
        ws.send(frame('subscribed', { channels: channels.filter((c) => !denied.includes(c)), denied }))
      } else if (message.type === 'unsubscribe') {
        for (const channel of channels) client.channels.delete(channel)
        ws.send(frame('unsubscribed', { channels }))
      }
    })
  })
  const { port } = wss.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    get accepted() {
      return accepted
    },
    get refused() {
      return refused
    },
    received,
    connections: () => clients.size,
    subscriptions: () => [...clients.values()].map((c) => [...c.channels]),
    publish(channel, message) {
      const text = JSON.stringify(message)
      for (const [ws, client] of clients) {
        // Filtered twice, as the ADR asks: by subscription and by the user's permissions now.
        if (client.channels.has(channel) && allowed(client.user, channel) && ws.readyState === ws.OPEN) ws.send(text)
      }
    },
    dropAll() {
      for (const ws of clients.keys()) ws.terminate()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of clients.keys()) ws.terminate()
        wss.close(() => resolve())
      }),
  }
}
