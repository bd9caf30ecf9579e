import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import type { ClientFrame } from '../frames'
import { parseJson } from '../json'
import { agentStatus, defined, epoch, eventOn, idOf, isObj, num, stamp, strings, textCodec, unknown, untyped, unsupportedCommand, type Obj } from './shared'
import { hasKey } from '../records'

/**
 * The routing backend (seed `routing`): a plain WebSocket server that broadcasts every
 * `{ type, payload }` JSON frame to every client. No handshake, no server-side subscribe (the
 * client filters), no positions, no commands: it only listens.
 *
 * - `routing_decision` → `routing.decision` on `task:{payload.taskId}`
 * - `agent_status`     → `agent.status` on `agent:{payload.name}`; a status word outside the
 *   seed's three passes through as it came
 * - any other type     → an untyped event (`routing:{type}`) on `global`
 *
 * Numbers may come as strings, ids as numbers, fields missing or null: what the mapping needs
 * is read where it can be, and the frame as it came is the event's `raw`.
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
  const payload: Obj = isObj(value.payload) ? value.payload : isObj(value.data) ? value.data : value
  const raw = value
  switch (type) {
    case 'routing_decision': {
      // The seed's agent is an object; a bare name is read as that agent.
      const agent: Obj = isObj(payload.agent) ? payload.agent : { name: payload.agent ?? payload.agentName ?? payload.agent_name }
      return eventOn(type, 'routing.decision', {
        taskId: idOf(payload.taskId, payload.task_id),
        agent: defined({
          name: idOf(agent.name, agent.id),
          strengths: strings(agent.strengths),
          cost: num(agent.cost),
          latency: num(agent.latency),
        }),
        timestamp: epoch(payload.timestamp),
      }, (p) => `task:${p.taskId}`, raw, 'routing')
    }
    case 'agent_status':
      return eventOn(type, 'agent.status', {
        name: idOf(payload.name, payload.agent, payload.agentId, payload.agent_id),
        status: agentStatus(payload.status),
        load: num(payload.load),
        timestamp: stamp(payload.timestamp),
      }, (p) => `agent:${p.name}`, raw, 'routing')
    default:
      return untyped('routing', type, raw)
  }
}

/**
 * For ingesting the routing engine's Redis channels as they are: the message is the
 * `{ type, payload }` frame, or a bare payload (the channel says which kind it is).
 */
export function decodeRoutingRedis(redisChannel: string, text: string): DecodeResult {
  const kind = hasKey(ROUTING_REDIS_CHANNELS, redisChannel) ? ROUTING_REDIS_CHANNELS[redisChannel] : undefined
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
