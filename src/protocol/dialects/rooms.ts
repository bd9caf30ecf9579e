import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import { ErrorCode } from '../codes'
import type { EventType } from '../events'
import type { ClientFrame, ServerMessage, SubscribeResult } from '../frames'
import { parseJson } from '../json'
import { printable } from '../validate'
import { agentStatus, errorFrame, eventOn, idOf, isObj, message, readSocketIo, rec, splitChannel, stamp, text, unsupported, unsupportedCommand, untyped, type Obj } from './shared'
import { isSocketIoAck, type SocketIoAck } from './socketio'
import { hasKey } from '../records'

/**
 * The rooms backend (seed `rooms`): a Socket.IO server with room subscriptions and CRUD events.
 * A frame is `[eventName, payload]` both ways. The seed's client says `client:ready` once it
 * is ready to receive events; a server built on Socket.IO answers emits through their
 * acknowledgement callback, and the Socket.IO transport hands each answer (or its absence
 * after `ackTimeoutMs`) back as a {@link SocketIoAck}. So: `hello` is the room joins of the
 * subscriptions the client holds plus `client:ready`, and the answer to `client:ready` is the
 * `welcome` (`ready` means the server confirmed); each subscribe is answered per channel from
 * its room join's acknowledgement (a refused room fails only that subscription).
 */

export const ROOMS_CAPABILITIES: Capabilities = Object.freeze({
  handshake: true,
  replies: true,
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

/** Server events that map one to one: event name → [canonical type, id field, record field, channel family]. */
const CRUD: Readonly<Record<string, readonly [EventType, string, string | undefined, string]>> = {
  'agent:created': ['agent.created', 'agentId', 'agent', 'agent'],
  'agent:updated': ['agent.updated', 'agentId', 'agent', 'agent'],
  'agent:deleted': ['agent.deleted', 'agentId', undefined, 'agent'],
  'chat:created': ['chat.created', 'chatId', 'chat', 'chat'],
  'chat:updated': ['chat.updated', 'chatId', 'chat', 'chat'],
  'chat:deleted': ['chat.deleted', 'chatId', undefined, 'chat'],
  'chat:messageCreated': ['chat.message.created', 'chatId', undefined, 'chat'],
  'chat:participantJoined': ['chat.participant.joined', 'chatId', undefined, 'chat'],
  'chat:participantLeft': ['chat.participant.left', 'chatId', undefined, 'chat'],
  'collection:created': ['collection.created', 'collectionId', 'metadata', 'collection'],
  'collection:updated': ['collection.updated', 'collectionId', 'metadata', 'collection'],
  'collection:deleted': ['collection.deleted', 'collectionId', undefined, 'collection'],
}

/** Every server event name this codec maps to a canonical event. */
export const ROOMS_SERVER_EVENTS = [...Object.keys(CRUD), 'agent:statusChanged', 'system:notification', 'error'] as const


function decodeRooms(name: string, body: unknown): DecodeResult {
  // A server may emit its payload as JSON text rather than an object.
  let payload = body
  if (typeof body === 'string' && body.startsWith('{')) {
    const parsed = parseJson(body)
    if (parsed.ok) payload = parsed.value
  }
  const p: Obj = isObj(payload) ? payload : {}
  const actor = { userId: idOf(p.userId, p.user_id), timestamp: stamp(p.timestamp) }
  const crud = hasKey(CRUD, name) ? CRUD[name] : undefined
  if (crud !== undefined) {
    const [type, idField, recordField, family] = crud
    const record = recordField === undefined ? undefined : rec(p[recordField])
    const id = idOf(p[idField], record?.id, record?._id, p.id)
    const fields: Obj = { [idField]: id, ...actor }
    if (recordField !== undefined) fields[recordField] = record ?? {}
    if (type === 'chat.message.created') {
      const m = rec(p.message)
      fields.messageId = idOf(p.messageId, m?.id, m?._id)
    }
    if (type === 'chat.participant.joined' || type === 'chat.participant.left') fields.participantId = idOf(p.participantId, rec(p.participant)?.id, p.participant)
    return eventOn(name, type, fields, (e) => `${family}:${(e as Record<string, string>)[idField]}`, payload, 'rooms')
  }
  switch (name) {
    case 'agent:statusChanged': {
      const agent = rec(p.agent)
      const name_ = idOf(p.agentId, agent?.id, agent?._id)
      const status = agentStatus(agent?.status ?? p.status)
      // A status change without a status still carries the agent: an update of its record.
      if (status === undefined) return eventOn(name, 'agent.updated', { agentId: name_, agent: agent ?? {}, ...actor }, (e) => `agent:${e.agentId}`, payload, 'rooms')
      return eventOn(name, 'agent.status', { name: name_, status, agent, ...actor }, (e) => `agent:${e.name}`, payload, 'rooms')
    }
    case 'system:notification':
      return eventOn(name, 'system.notification', {
        level: text(p.type) ?? text(p.level) ?? 'info',
        message: message(p.message) ?? '',
        title: message(p.title),
        details: p.details ?? undefined,
        timestamp: actor.timestamp,
      }, () => 'global', payload, 'rooms')
    case 'error':
    case 'connect_error':
    case 'exception':
      return errorFrame('rooms', payload)
    default:
      return untyped('rooms', name, payload)
  }
}

// ── acknowledgements ────────────────────────────────────────────────────────────────────

/** Whether an acknowledgement says no: `{ success: false }`, `{ status: 'error' }`, `{ error }`, `false`. */
function refusedBy(response: readonly unknown[] | undefined): { code: string; message: string } | undefined {
  const first = response?.[0]
  if (first === false) return { code: ErrorCode.Forbidden, message: 'refused' }
  if (!isObj(first)) return undefined
  const status = text(first.status)?.toLowerCase()
  const failed = first.success === false || first.ok === false || status === 'error' || status === 'fail' || status === 'failed' || (first.error != null && first.success !== true && status !== 'ok')
  if (!failed) return undefined
  const error = first.error
  const detail = isObj(error) ? error : {}
  const code = (text(detail.code) ?? text(first.code) ?? '').toLowerCase()
  const why = message(detail.message) ?? message(error) ?? message(first.message) ?? 'refused'
  return { code: /invalid|not_?found|bad/.test(code) ? ErrorCode.InvalidChannel : ErrorCode.Forbidden, message: why.slice(0, 1024) }
}

/** What a frame this codec encoded was for, so its acknowledgement answers the right command. */
type Sent =
  | { kind: 'join'; batch: Batch; channel: string }
  | { kind: 'ready'; batch: Batch }
  | { kind: 'command'; id: string }

/** A subscribe (or hello) whose channels are answered one acknowledgement at a time. */
interface Batch {
  readonly id: string | undefined
  readonly kind: 'subscribe' | 'unsubscribe' | 'hello'
  readonly results: Map<string, SubscribeResult>
  waiting: number
  readyAcked: boolean
}

function resultsOf(batch: Batch): SubscribeResult[] {
  return [...batch.results.values()]
}

/** A rooms codec with its own record of frames awaiting acknowledgement (`dialects.rooms` is one). */
export function createRoomsCodec(): Codec<RoomsFrame> {
  // Keyed by the frame arrays themselves: the transport hands back the very array it sent.
  const sent = new WeakMap<object, Sent>()

  function settle(batch: Batch): ServerMessage[] {
    if (batch.waiting > 0) return []
    if (batch.kind === 'hello') return batch.readyAcked ? [{ type: 'welcome', v: 1, session: 'rooms', heartbeatMs: 0, subscriptions: resultsOf(batch) }] : []
    return [{ type: 'reply', id: batch.id!, ok: true, result: resultsOf(batch) }]
  }

  function acknowledged(ack: SocketIoAck): DecodeResult {
    const what = sent.get(ack.frame)
    if (what === undefined) return { ok: true, messages: [] }
    sent.delete(ack.frame)
    // No answer within the transport's wait: the server does not acknowledge; take it as done.
    const refused = ack.timedOut ? undefined : refusedBy(ack.response)
    switch (what.kind) {
      case 'join': {
        const { batch, channel } = what
        batch.results.set(channel, refused === undefined ? { ok: true, channel, recovered: false } : { ok: false, channel, error: refused })
        batch.waiting--
        return { ok: true, messages: settle(batch) }
      }
      case 'ready':
        what.batch.readyAcked = true
        return { ok: true, messages: settle(what.batch) }
      case 'command': {
        const reply: ServerMessage = refused === undefined ? { type: 'reply', id: what.id, ok: true } : { type: 'reply', id: what.id, ok: false, error: refused }
        return { ok: true, messages: [reply] }
      }
    }
  }

  /** One room emit per channel; `global` needs none, other families are refused alone, not the batch. */
  function roomFrames(kind: 'subscribe' | 'unsubscribe', batch: Batch, channels: readonly string[]): RoomsFrame[] {
    const frames: RoomsFrame[] = []
    for (const channel of channels) {
      // System notifications go to every socket; there is no room to join or leave.
      if (channel === 'global') {
        batch.results.set(channel, { ok: true, channel, recovered: false })
        continue
      }
      const [family, id] = splitChannel(channel)
      if (!(ROOM_FAMILIES as readonly string[]).includes(family) || id === undefined || id.endsWith('*')) {
        batch.results.set(channel, {
          ok: false,
          channel,
          error: { code: ErrorCode.Unsupported, message: `the rooms backend has no room for "${printable(channel)}": it has agent:{id}, chat:{id} and collection:{id} rooms (no patterns), and sends global to everyone` },
        })
        continue
      }
      const frame: RoomsFrame = [`${kind}:${family}`, id]
      sent.set(frame, { kind: 'join', batch, channel })
      batch.waiting++
      frames.push(frame)
    }
    return frames
  }

  function batchOf(id: string | undefined, kind: Batch['kind']): Batch {
    return { id, kind, results: new Map(), waiting: 0, readyAcked: false }
  }

  return {
    name: 'rooms',
    capabilities: ROOMS_CAPABILITIES,
    decode(frame: unknown): DecodeResult {
      if (isSocketIoAck(frame)) return acknowledged(frame)
      const read = readSocketIo(frame, 'rooms')
      if (!read.ok) return read
      return decodeRooms(read.name, read.args[0])
    },
    encode(command: ClientFrame): EncodeResult<RoomsFrame> {
      switch (command.type) {
        case 'subscribe':
        case 'unsubscribe': {
          const batch = batchOf(command.id, command.type)
          const channels = command.type === 'subscribe' ? command.channels.map((c) => c.channel) : command.channels
          const frames = roomFrames(command.type, batch, channels)
          // Nothing to emit (only `global`, or only channels without a room): answered here.
          return frames.length > 0 ? { ok: true, frames } : { ok: true, frames, local: settle(batch) }
        }
        case 'hello': {
          // Auth travels in Socket.IO's handshake; hello is the rooms to join, then "ready".
          const batch = batchOf(undefined, 'hello')
          const frames = roomFrames('subscribe', batch, (command.resume ?? []).map((c) => c.channel))
          const ready: RoomsFrame = ['client:ready']
          sent.set(ready, { kind: 'ready', batch })
          return { ok: true, frames: [...frames, ready] }
        }
        case 'ack': {
          if (command.messageId === undefined) return unsupported('rooms', 'acknowledgement without a messageId')
          const frame: RoomsFrame = [command.kind === 'read' ? 'message:read' : 'message:received', { messageId: command.messageId }]
          if (command.id !== undefined) sent.set(frame, { kind: 'command', id: command.id })
          return { ok: true, frame }
        }
        default:
          return unsupportedCommand('rooms', command.type)
      }
    },
  }
}

const ROOM_FAMILIES = ['agent', 'chat', 'collection'] as const

export const rooms: Codec<RoomsFrame> = createRoomsCodec()
