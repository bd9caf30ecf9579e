import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import { ErrorCode } from '../codes'
import { AgentwireError } from '../errors'
import type { EventType } from '../events'
import type { ClientFrame } from '../frames'
import { printable } from '../validate'
import { eventOn, isObj, normaliseAgentStatus, readSocketIo, splitChannel, unknown, unsupported, unsupportedCommand } from './shared'

/**
 * The rooms backend (seed `rooms`): a Socket.IO server with room subscriptions and CRUD events.
 * A frame is `[eventName, payload]` both ways. Socket.IO keeps the connection alive itself
 * and the server keeps no log, so: server-side subscribe, nothing else.
 */

export const ROOMS_CAPABILITIES: Capabilities = Object.freeze({
  handshake: false,
  serverSubscribe: true,
  resume: false,
  positions: false,
  rejoin: false,
  commands: false,
  heartbeat: 'none',
})

export type RoomsFrame = readonly unknown[]

/** Sent once connected: the seed's "client is ready to receive events". */
export const ROOMS_READY_FRAME: RoomsFrame = Object.freeze(['client:ready'])

/** Server events that map one to one: event name → [canonical type, id field, channel family]. */
const CRUD: Readonly<Record<string, readonly [EventType, 'agentId' | 'chatId' | 'collectionId', string]>> = {
  'agent:created': ['agent.created', 'agentId', 'agent'],
  'agent:updated': ['agent.updated', 'agentId', 'agent'],
  'agent:deleted': ['agent.deleted', 'agentId', 'agent'],
  'chat:created': ['chat.created', 'chatId', 'chat'],
  'chat:updated': ['chat.updated', 'chatId', 'chat'],
  'chat:deleted': ['chat.deleted', 'chatId', 'chat'],
  'chat:messageCreated': ['chat.message.created', 'chatId', 'chat'],
  'chat:participantJoined': ['chat.participant.joined', 'chatId', 'chat'],
  'chat:participantLeft': ['chat.participant.left', 'chatId', 'chat'],
  'collection:created': ['collection.created', 'collectionId', 'collection'],
  'collection:updated': ['collection.updated', 'collectionId', 'collection'],
  'collection:deleted': ['collection.deleted', 'collectionId', 'collection'],
}

/** Every server event name this codec decodes. */
export const ROOMS_SERVER_EVENTS = [...Object.keys(CRUD), 'agent:statusChanged', 'system:notification'] as const

function decodeRooms(name: string, payload: unknown): DecodeResult {
  const crud = Object.prototype.hasOwnProperty.call(CRUD, name) ? CRUD[name] : undefined
  if (crud !== undefined) {
    const [type, idField, family] = crud
    return eventOn(name, type, payload, (p) => `${family}:${(p as Record<string, string>)[idField]}`)
  }
  if (name === 'agent:statusChanged') {
    if (!isObj(payload)) return eventOn(name, 'agent.status', payload, () => 'global')
    const agent = isObj(payload.agent) ? payload.agent : undefined
    const status = normaliseAgentStatus(name, 'agent.status', agent?.status)
    if (!status.ok) return status
    return eventOn(name, 'agent.status', { name: payload.agentId, status: status.status, agent, userId: payload.userId, timestamp: payload.timestamp }, (p) => `agent:${p.name}`)
  }
  if (name === 'system:notification') {
    if (!isObj(payload)) return eventOn(name, 'system.notification', payload, () => 'global')
    return eventOn(name, 'system.notification', { level: payload.type, message: payload.message, details: payload.details, timestamp: payload.timestamp }, () => 'global')
  }
  return unknown(name)
}

const ROOM_FAMILIES = ['agent', 'chat', 'collection'] as const

function roomFrames(kind: 'subscribe' | 'unsubscribe', channels: readonly string[]): EncodeResult<RoomsFrame> {
  const frames: RoomsFrame[] = []
  for (const channel of channels) {
    // System notifications go to every socket; there is no room to join or leave.
    if (channel === 'global') continue
    const [family, id] = splitChannel(channel)
    if (!(ROOM_FAMILIES as readonly string[]).includes(family) || id === undefined || id.endsWith('*')) {
      return {
        ok: false,
        error: new AgentwireError(ErrorCode.Unsupported, `the rooms backend has no room for "${printable(channel)}": it has agent:{id}, chat:{id} and collection:{id} rooms (no patterns), and sends global to everyone`),
      }
    }
    frames.push([`${kind}:${family}`, id])
  }
  return { ok: true, frames }
}

export const rooms: Codec<RoomsFrame> = {
  name: 'rooms',
  capabilities: ROOMS_CAPABILITIES,
  decode(frame: unknown): DecodeResult {
    const read = readSocketIo(frame, 'rooms')
    if (!read.ok) return read
    return decodeRooms(read.name, read.args[0])
  },
  encode(command: ClientFrame): EncodeResult<RoomsFrame> {
    switch (command.type) {
      case 'subscribe':
        return roomFrames('subscribe', command.channels.map((c) => c.channel))
      case 'unsubscribe':
        return roomFrames('unsubscribe', command.channels)
      case 'hello':
        // No auth in frames here (Socket.IO carries it in its handshake): hello means "ready".
        return { ok: true, frame: ROOMS_READY_FRAME }
      case 'ack':
        if (command.messageId === undefined) return unsupported('rooms', 'acknowledgement without a messageId')
        return { ok: true, frame: [command.kind === 'read' ? 'message:read' : 'message:received', { messageId: command.messageId }] }
      default:
        return unsupportedCommand('rooms', command.type)
    }
  },
}
