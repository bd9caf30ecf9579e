import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import { ErrorCode } from '../codes'
import { AgentwireError } from '../errors'
import type { ClientFrame, ServerMessage } from '../frames'
import { printable } from '../validate'
import { eventOn, isObj, normaliseAgentStatus, readTypedText, splitChannel, textCodec, unknown, unsupported, unsupportedCommand, type Obj } from './shared'

/**
 * The webgui backend (seed `webgui`, an ADR): agents publish to Redis channels
 * `webgui:session:{id}`, `webgui:agent:{name}`, `webgui:global`, `webgui:user:{id}`; a FastAPI
 * WebSocket pushes `{ type, timestamp, session_id, data }` frames. The ADR names the kinds of
 * update, not their frames; the choices below are docs/PROTOCOL.md's ("webgui").
 *
 * | type                     | canonical event       | channel                                   |
 * | ------------------------ | --------------------- | ----------------------------------------- |
 * | `session_status_changed` | `session.status`      | `session:{session_id}`                    |
 * | `agent_status_changed`   | `agent.status`        | `agent:{data.agent}`                      |
 * | `task_progress`          | `task.progress`       | `task:{data.task_id}`                     |
 * | `notification`           | `system.notification` | `user:{data.user_id}`, else `session:{session_id}`, else `global` |
 * | `test_result`            | `system.notification` (success / error) | as `notification`       |
 * | `metrics_update`         | `metrics.snapshot`    | `metrics`                                 |
 * | `error`                  | an `error` message    | —                                         |
 * | `ping` / `pong`          | heartbeat             | —                                         |
 *
 * Client frames: `{ type: 'subscribe' | 'unsubscribe', channel: 'webgui:session:123' }`, one
 * per channel (the server filters by the user's permissions), and `{ type: 'ping' }`.
 */

export const WEBGUI_CAPABILITIES: Capabilities = Object.freeze({
  handshake: false,
  serverSubscribe: true,
  resume: false,
  positions: false,
  rejoin: false,
  commands: false,
  heartbeat: 'text',
})

const FAMILIES = ['session', 'agent', 'user'] as const
const PREFIX = 'webgui:'

/** `webgui:session:123` → `session:123`, `webgui:global` → `global`; anything else → `undefined`. */
export function webguiChannelToCanonical(redisChannel: string): string | undefined {
  if (!redisChannel.startsWith(PREFIX)) return undefined
  const rest = redisChannel.slice(PREFIX.length)
  if (rest === 'global') return 'global'
  const [family, id] = splitChannel(rest)
  if (id === undefined || id === '' || !(FAMILIES as readonly string[]).includes(family)) return undefined
  return `${family}:${id}`
}

/** `session:123` → `webgui:session:123`, `global` → `webgui:global`, patterns too; other families → `undefined`. */
export function canonicalToWebguiChannel(channel: string): string | undefined {
  if (channel === 'global') return `${PREFIX}global`
  if (channel === '*') return `${PREFIX}*`
  const [family, id] = splitChannel(channel)
  if (id === undefined || !(FAMILIES as readonly string[]).includes(family)) return undefined
  return `${PREFIX}${family}:${id}`
}

/** Where a notification goes: the Redis channel it came on, else its user, else its session, else everyone. */
function notificationChannel(value: Obj, data: Obj, override: string | undefined): string {
  if (override !== undefined) return override
  if (typeof data.user_id === 'string') return `user:${data.user_id}`
  if (typeof value.session_id === 'string') return `session:${value.session_id}`
  return 'global'
}

function decodeWebgui(type: string, value: Obj, channelOverride?: string): DecodeResult {
  const data: Obj = isObj(value.data) ? value.data : {}
  const timestamp = value.timestamp
  const sessionId = typeof value.session_id === 'string' ? value.session_id : undefined
  const on = (fallback: string) => () => channelOverride ?? fallback
  switch (type) {
    case 'session_status_changed':
      return eventOn(type, 'session.status', { sessionId: value.session_id, status: data.status, progress: data.progress, message: data.message, timestamp }, (p) => channelOverride ?? `session:${p.sessionId}`)
    case 'agent_status_changed': {
      const status = normaliseAgentStatus(type, 'data.status', data.status)
      if (!status.ok) return status
      return eventOn(type, 'agent.status', { name: data.agent ?? data.name, status: status.status, load: data.load, timestamp }, (p) => channelOverride ?? `agent:${p.name}`)
    }
    case 'task_progress':
      return eventOn(type, 'task.progress', { taskId: data.task_id, progress: data.progress, message: data.message, step: data.step, agent: data.agent, timestamp }, (p) => channelOverride ?? `task:${p.taskId}`)
    case 'notification':
      return eventOn(type, 'system.notification', { level: data.level ?? 'info', message: data.message, title: data.title, details: data.details, sessionId, userId: data.user_id, timestamp }, on(notificationChannel(value, data, undefined)))
    case 'test_result': {
      const passed = data.passed === true || data.status === 'passed'
      const name = typeof data.test_name === 'string' ? data.test_name : 'test'
      return eventOn(type, 'system.notification', {
        level: passed ? 'success' : 'error',
        title: name,
        message: typeof data.message === 'string' ? data.message : `${name} ${passed ? 'passed' : 'failed'}`,
        details: data,
        sessionId,
        timestamp,
      }, on(notificationChannel(value, data, undefined)))
    }
    case 'metrics_update':
      return eventOn(type, 'metrics.snapshot', { scope: data.scope ?? 'system', name: data.name, values: data.values, timestamp }, on('metrics'))
    case 'error': {
      const message = typeof data.message === 'string' ? data.message : 'the webgui backend reported an error'
      const frame: ServerMessage = { type: 'error', error: { code: typeof data.code === 'string' ? data.code.slice(0, 64) : 'internal', message: message.slice(0, 1024) } }
      return { ok: true, messages: [frame] }
    }
    case 'ping':
      return { ok: true, messages: [{ type: 'ping' }] }
    case 'pong':
      return { ok: true, messages: [{ type: 'pong' }] }
    default:
      return unknown(type)
  }
}

/**
 * For ingesting `webgui:*` Redis channels as they are: the message is a webgui frame, and the
 * Redis channel decides the canonical channel (so `webgui:user:7` reaches `user:7`).
 */
export function decodeWebguiRedis(redisChannel: string, text: string): DecodeResult {
  const channel = webguiChannelToCanonical(redisChannel)
  if (channel === undefined) return unknown(`redis:${redisChannel}`)
  const read = readTypedText(text, 'webgui')
  if (!read.ok) return read
  return decodeWebgui(read.type, read.value, channel)
}

function channelFrames(kind: 'subscribe' | 'unsubscribe', channels: readonly string[]): EncodeResult<string> {
  const frames: string[] = []
  for (const channel of channels) {
    const target = canonicalToWebguiChannel(channel)
    if (target === undefined) {
      return { ok: false, error: new AgentwireError(ErrorCode.Unsupported, `the webgui backend has no channel for "${printable(channel)}": it carries session:{id}, agent:{name}, user:{id} and global`) }
    }
    frames.push(JSON.stringify({ type: kind, channel: target }))
  }
  return { ok: true, frames }
}

export const webgui: Codec<string> = textCodec('webgui', WEBGUI_CAPABILITIES, decodeWebgui, (command: ClientFrame): EncodeResult<string> => {
  switch (command.type) {
    case 'subscribe':
      return channelFrames('subscribe', command.channels.map((c) => c.channel))
    case 'unsubscribe':
      return channelFrames('unsubscribe', command.channels)
    case 'ping':
      return { ok: true, frame: '{"type":"ping"}' }
    case 'pong':
      return { ok: true, frame: '{"type":"pong"}' }
    case 'ack':
      return unsupported('webgui', 'acknowledgements')
    default:
      return unsupportedCommand('webgui', command.type)
  }
})

