import type { ReceivedCommand, SeedServer } from './control'
import { startSocketIoServer } from './socketio'

/**
 * The rooms seed as written: a Socket.IO server whose clients join rooms with
 * `subscribe:agent` / `subscribe:chat` / `subscribe:collection` (and leave with `unsubscribe:*`),
 * receive the CRUD events of the entities they joined and every `system:notification`, and
 * acknowledge messages with `message:received` / `message:read`.
 */
export type RoomsEntity = 'agent' | 'chat' | 'collection'

export interface RoomsServer extends SeedServer {
  /** Emits a CRUD event to the room of the entity it names (`agent:created` → room `agent:{agentId}`). */
  publish(event: string, payload: Record<string, unknown>): void
  /** Emits a `system:notification` to every client. */
  notify(payload: { type: 'info' | 'warning' | 'error' | 'success'; message: string; details?: unknown; timestamp: string }): void
  /** Disconnects every socket politely (a Socket.IO DISCONNECT packet): reason `io server disconnect` on the client. */
  disconnectAll(): void
  /** The rooms one client socket is in (besides its own id room), for asserting server-side subscriptions. */
  rooms(): string[][]
}

const ENTITY_KEYS: Record<RoomsEntity, string> = { agent: 'agentId', chat: 'chatId', collection: 'collectionId' }

export async function startRoomsServer(): Promise<RoomsServer> {
  const base = await startSocketIoServer()
  const received: ReceivedCommand[] = []
  base.io.on('connection', (socket) => {
    for (const entity of Object.keys(ENTITY_KEYS) as RoomsEntity[]) {
      // Each event answers through Socket.IO's acknowledgement callback when the client passes one.
      socket.on(`subscribe:${entity}`, (id: unknown, ack?: (answer: unknown) => void) => {
        received.push({ type: `subscribe:${entity}`, data: id })
        if (typeof id === 'string') void socket.join(`${entity}:${id}`)
        ack?.(typeof id === 'string' ? { success: true, room: `${entity}:${id}` } : { success: false, error: `Invalid ${entity}Id` })
      })
      socket.on(`unsubscribe:${entity}`, (id: unknown, ack?: (answer: unknown) => void) => {
        received.push({ type: `unsubscribe:${entity}`, data: id })
        if (typeof id === 'string') void socket.leave(`${entity}:${id}`)
        ack?.({ success: true })
      })
    }
    for (const event of ['client:ready', 'client:disconnect', 'message:received', 'message:read']) {
      socket.on(event, (...args: unknown[]) => {
        const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (answer: unknown) => void) : undefined
        received.push({ type: event, data: args[0] })
        ack?.({ success: true })
      })
    }
  })
  return {
    url: base.url,
    get accepted() {
      return base.counters.accepted
    },
    received,
    connections: () => base.sockets.size,
    publish(event, payload) {
      const entity = event.slice(0, event.indexOf(':')) as RoomsEntity
      const key = ENTITY_KEYS[entity]
      if (!key) throw new Error(`rooms server: "${event}" is not an agent, chat or collection event`)
      base.io.to(`${entity}:${String(payload[key])}`).emit(event, payload)
    },
    notify(payload) {
      base.io.emit('system:notification', payload)
    },
    rooms: () => [...base.sockets].map((s) => [...s.rooms].filter((r) => r !== s.id)),
    disconnectAll: () => base.io.disconnectSockets(true),
    dropAll: base.dropAll,
    close: base.close,
  }
}
