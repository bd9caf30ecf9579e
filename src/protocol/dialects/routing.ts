import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import type { ClientFrame } from '../frames'
import { parseJson } from '../json'
import { eventOn, isObj, textCodec, unknown, unsupportedCommand, type Obj } from './shared'

/**
 * The routing backend (seed `routing`): a plain WebSocket server that broadcasts every
 * `{ type, payload }` JSON frame to every client. No handshake, no server-side subscribe (the
 * client filters), no positions, no commands: it only listens.
 *
 * - `routing_decision` → `routing.decision` on `task:{payload.taskId}`
 * - `agent_status`     → `agent.status` on `agent:{payload.name}`
 */

export const ROUTING_CAPABILITIES: Capabilities = Object.freeze({
  handshake: false,
  serverSubscribe: false,
  resume: false,
  positions: false,
  rejoin: false,
  commands: false,
  heartbeat: 'none',
})

/** The Redis channels the routing engine publishes to, and the frame type each carries. */
export const ROUTING_REDIS_CHANNELS: Readonly<Record<string, 'routing_decision' | 'agent_status'>> = Object.freeze({
  'task:routing': 'routing_decision',
  'agent:status': 'agent_status',
})

function decodeRouting(type: string, value: Obj): DecodeResult {
  const payload = value.payload
  if (type !== 'routing_decision' && type !== 'agent_status') return unknown(type)
  if (type === 'routing_decision') return eventOn(type, 'routing.decision', payload, (p) => `task:${p.taskId}`)
  return eventOn(type, 'agent.status', payload, (p) => `agent:${p.name}`)
}

/**
 * For ingesting the routing engine's Redis channels as they are: the message is the
 * `{ type, payload }` frame, or a bare payload (the channel says which kind it is).
 */
export function decodeRoutingRedis(redisChannel: string, text: string): DecodeResult {
  const kind = Object.prototype.hasOwnProperty.call(ROUTING_REDIS_CHANNELS, redisChannel) ? ROUTING_REDIS_CHANNELS[redisChannel] : undefined
  if (kind === undefined) return unknown(`redis:${redisChannel}`)
  const parsed = parseJson(text)
  if (!parsed.ok) return parsed
  const value = parsed.value
  if (isObj(value) && value.type === kind && 'payload' in value) return decodeRouting(kind, value)
  return decodeRouting(kind, { type: kind, payload: value })
}

export const routing: Codec<string> = textCodec('routing', ROUTING_CAPABILITIES, decodeRouting, (command: ClientFrame): EncodeResult<string> => {
  return unsupportedCommand('routing', command.type)
})
