import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import { ErrorCode } from '../codes'
import { AgentwireError } from '../errors'
import type { ClientFrame, ServerMessage, SubscribeResult } from '../frames'
import { printable } from '../validate'
import {
  agentStatus,
  errorFrame,
  eventOn,
  firstNum,
  idOf,
  isObj,
  message,
  numbersIn,
  readTypedText,
  splitChannel,
  stamp,
  strings,
  text,
  textCodec,
  unknown,
  unsupported,
  unsupportedCommand,
  untyped,
  type Obj,
} from './shared'

/**
 * The webgui backend (seed `webgui`, an ADR): agents publish to Redis channels
 * `webgui:session:{id}`, `webgui:agent:{name}`, `webgui:global`, `webgui:user:{id}`; a FastAPI
 * WebSocket pushes each message as it came, `{ type, timestamp, session_id, data }`. The ADR
 * names the kinds of update, not their frames; docs/BACKENDS.md has the table of what each
 * type becomes. The frame does not say which Redis channel it came on, so the canonical
 * channel is the one the ADR routes that kind of update to: session updates (task progress,
 * test results, who joined) on `session:{session_id}`, agent status on `agent:{name}`,
 * notifications and metrics on `global` (or `user:{id}` when the frame names the user).
 *
 * Client frames: `{ type: 'subscribe' | 'unsubscribe', channels: ['webgui:session:123'] }`
 * (with `channel` too when there is one, for servers that read that), and `{ type: 'ping' }`.
 * The server answers a subscribe with `subscribed { channels, denied }` (and an `error` per
 * refused channel); the codec turns that into the subscription's reply, so a denied channel
 * fails `forbidden` while the others subscribe, and `ready` waits for the answer.
 */

export const WEBGUI_CAPABILITIES: Capabilities = Object.freeze({
  handshake: false,
  replies: true,
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

/** Frames that steer the connection rather than carry an event (BACKENDS.md says why each is one). */
export const WEBGUI_CONTROL_FRAMES = ['connected', 'subscribed', 'unsubscribed', 'heartbeat', 'ping', 'pong'] as const

/** Test outcomes as notification levels; any other outcome passes through as its own word. */
const TEST_LEVELS: Readonly<Record<string, string>> = { passed: 'success', pass: 'success', success: 'success', ok: 'success', failed: 'error', fail: 'error', failure: 'error', error: 'error' }

function decodeWebgui(type: string, value: Obj, channelOverride?: string): DecodeResult {
  const data: Obj = isObj(value.data) ? value.data : {}
  const timestamp = stamp(value.timestamp)
  const sessionId = idOf(value.session_id, value.sessionId, data.session_id)
  const explicit = channelOverride ?? (typeof value.channel === 'string' ? webguiChannelToCanonical(value.channel) : undefined)
  const session = sessionId === undefined ? undefined : `session:${sessionId}`
  const userId = idOf(data.user_id, data.userId)
  const on = (fallback: string | undefined) => () => explicit ?? fallback ?? 'global'
  const raw = value
  switch (type) {
    case 'session_status_changed':
    case 'session_status':
    case 'session_updated':
      return eventOn(type, 'session.status', {
        sessionId,
        status: text(data.status) ?? 'unknown',
        progress: firstNum(data.progress),
        message: message(data.message),
        timestamp,
      }, on(session), raw, 'webgui')
    case 'agent_status_changed':
    case 'agent_status': {
      const name = idOf(data.agent, data.name, data.agent_name, data.agent_id)
      return eventOn(type, 'agent.status', { name, status: agentStatus(data.status) ?? 'unknown', load: firstNum(data.load), agent: data, timestamp }, (p) => explicit ?? `agent:${p.name}`, raw, 'webgui')
    }
    case 'task_progress': {
      const progress = firstNum(data.progress, data.percentage, data.percent)
      return eventOn(type, 'task.progress', {
        taskId: idOf(data.task_id, data.taskId),
        progress: progress === undefined ? undefined : Math.min(100, Math.max(0, progress)),
        message: message(data.message),
        step: text(data.step)?.slice(0, 256),
        agent: idOf(data.agent, data.agent_name),
        timestamp,
      }, on(session ?? (idOf(data.agent) === undefined ? undefined : `agent:${idOf(data.agent)}`)), raw, 'webgui')
    }
    case 'notification':
    case 'system_notification':
    case 'user_notification':
      return eventOn(type, 'system.notification', {
        level: text(data.level) ?? text(data.type) ?? 'info',
        message: message(data.message) ?? message(data.title) ?? '',
        title: message(data.title),
        details: data,
        sessionId,
        userId,
        timestamp,
      }, on(userId !== undefined ? `user:${userId}` : session), raw, 'webgui')
    case 'test_result': {
      const outcome = text(data.status) ?? (data.passed === true ? 'passed' : data.passed === false ? 'failed' : undefined)
      const name = text(data.test_name) ?? text(data.name) ?? 'test'
      const level = outcome === undefined ? 'info' : (TEST_LEVELS[outcome.toLowerCase()] ?? outcome)
      return eventOn(type, 'system.notification', {
        level,
        title: name,
        message: message(data.message) ?? message(data.error) ?? `${name} ${outcome ?? 'finished'}`,
        details: data,
        sessionId,
        timestamp,
      }, on(session), raw, 'webgui')
    }
    case 'user_joined':
    case 'user_left':
      return eventOn(type, type === 'user_joined' ? 'session.user.joined' : 'session.user.left', {
        sessionId,
        userId,
        name: message(data.username) ?? message(data.name),
        timestamp,
      }, on(session), raw, 'webgui')
    case 'metrics_update':
    case 'metrics':
      return eventOn(type, 'metrics.snapshot', {
        scope: text(data.scope) ?? 'system',
        name: text(data.name)?.slice(0, 256),
        values: numbersIn(isObj(data.values) ? data.values : data, ['scope', 'name', 'timestamp']),
        timestamp,
      }, on(undefined), raw, 'webgui')
    case 'error':
      return errorFrame('webgui', value)
    case 'ping':
      return { ok: true, messages: [{ type: 'ping' }] }
    case 'pong':
    case 'heartbeat':
      // A server heartbeat asks for nothing: any frame proves the link alive.
      return { ok: true, messages: [{ type: 'pong' }] }
    case 'connected':
      return { ok: true, messages: [] }
    default:
      return untyped('webgui', type, raw, explicit ?? session ?? 'global')
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

// ── subscriptions answered by channel ───────────────────────────────────────────────────

/** A subscribe sent and not yet answered: its frame id, its channels (webgui names), what is known so far. */
interface Pending {
  readonly id: string
  readonly kind: 'subscribe' | 'unsubscribe'
  readonly channels: readonly string[]
  readonly results: Map<string, SubscribeResult>
  /** Taken as made when sent (the backend was not yet known to answer): only a refusal is news. */
  readonly assumed: boolean
}

/** Answers kept waiting at most: a backend that never answers must not grow this without end. */
const MAX_PENDING = 256

const refusal = (channel: string, code: string, message: string): SubscribeResult => ({ ok: false, channel, error: { code, message: message.slice(0, 1024) } })

/**
 * A webgui codec with its own record of unanswered subscribes. Give each client its own
 * (`dialects.webgui` is one shared instance: fine for one client per process).
 */
export function createWebguiCodec(): Codec<string> {
  const pending: Pending[] = []
  /**
   * Whether this backend answers subscribes (it was seen sending `connected`, `subscribed` or
   * `unsubscribed`). The ADR does not say it does: until one is seen, a subscribe is taken as
   * made once sent, and a refusal that comes later still fails its channel.
   */
  let answers = false

  const remember = (p: Pending) => {
    pending.push(p)
    if (pending.length > MAX_PENDING) pending.shift()
  }

  /** The reply for the oldest pending entry of `kind` that `channels` answer, once every channel of it is answered. */
  function answer(kind: Pending['kind'], granted: readonly string[], denied: readonly string[]): DecodeResult {
    const named = new Set([...granted, ...denied])
    const i = pending.findIndex((p) => p.kind === kind && p.channels.some((c) => named.has(c)))
    if (i === -1) return { ok: true, messages: [] }
    const entry = pending[i]!
    pending.splice(i, 1)
    if (entry.assumed) {
      const refused = entry.channels.filter((wire) => denied.includes(wire)).map((wire) => refusal(webguiChannelToCanonical(wire) ?? wire, ErrorCode.Forbidden, `the webgui backend refused ${wire}`))
      return { ok: true, messages: refused.length === 0 ? [] : [{ type: 'reply', id: entry.id, ok: true, result: refused }] }
    }
    const result: SubscribeResult[] = []
    for (const wire of entry.channels) {
      const channel = webguiChannelToCanonical(wire) ?? wire
      const known = entry.results.get(wire)
      if (known !== undefined) result.push(known)
      else if (granted.includes(wire) || kind === 'unsubscribe') result.push({ ok: true, channel, recovered: false })
      else if (denied.includes(wire)) result.push(refusal(channel, ErrorCode.Forbidden, `the webgui backend refused ${wire}`))
      else result.push(refusal(channel, ErrorCode.InvalidChannel, `the webgui backend did not subscribe ${wire}`))
    }
    for (const [wire, known] of entry.results) if (!entry.channels.includes(wire)) result.push(known)
    const reply: ServerMessage = { type: 'reply', id: entry.id, ok: true, result }
    return { ok: true, messages: [reply] }
  }

  /** An `error` naming a channel we are subscribing: kept as that channel's answer rather than reported twice. */
  function channelError(value: Obj): DecodeResult | undefined {
    const data: Obj = isObj(value.data) ? value.data : {}
    const wire = text(data.channel) ?? text(value.channel)
    if (wire === undefined) return undefined
    const entry = pending.find((p) => p.kind === 'subscribe' && !p.assumed && p.channels.includes(wire))
    if (entry === undefined) return undefined
    const code = (text(data.code) ?? '').toLowerCase()
    const forbidden = /denied|forbidden|permission|unauthori[sz]ed/.test(code)
    entry.results.set(wire, refusal(webguiChannelToCanonical(wire) ?? wire, forbidden ? ErrorCode.Forbidden : ErrorCode.InvalidChannel, message(data.message) ?? `the webgui backend refused ${wire}`))
    return { ok: true, messages: [] }
  }

  return textCodec('webgui', WEBGUI_CAPABILITIES, (type, value) => {
    if (type === 'connected') answers = true
    if (type === 'subscribed' || type === 'unsubscribed') {
      answers = true
      const data: Obj = isObj(value.data) ? value.data : value
      const granted = strings(data.channels) ?? (typeof data.channel === 'string' ? [data.channel] : [])
      return answer(type === 'subscribed' ? 'subscribe' : 'unsubscribe', granted, strings(data.denied) ?? [])
    }
    if (type === 'error') return channelError(value) ?? decodeWebgui(type, value)
    return decodeWebgui(type, value)
  }, encode)

  function channelFrame(kind: 'subscribe' | 'unsubscribe', id: string, channels: readonly string[]): EncodeResult<string> {
    const wire: string[] = []
    const results = new Map<string, SubscribeResult>()
    for (const channel of channels) {
      const target = canonicalToWebguiChannel(channel)
      if (target === undefined) results.set(channel, refusal(channel, ErrorCode.Unsupported, `the webgui backend has no channel for "${printable(channel)}": it carries session:{id}, agent:{name}, user:{id} and global`))
      else wire.push(target)
    }
    // Every channel unsupported: nothing to send, and nothing will answer.
    if (wire.length === 0) return { ok: false, error: new AgentwireError(ErrorCode.Unsupported, [...results.values()].map((r) => (r.ok ? '' : r.error.message)).join('; ')) }
    remember({ id, kind, channels: wire, results, assumed: !answers })
    const frame = JSON.stringify(wire.length === 1 ? { type: kind, channel: wire[0], channels: wire } : { type: kind, channels: wire })
    if (answers) return { ok: true, frame }
    const result: SubscribeResult[] = [...wire.map((w): SubscribeResult => ({ ok: true, channel: webguiChannelToCanonical(w) ?? w, recovered: false })), ...results.values()]
    return { ok: true, frames: [frame], local: [{ type: 'reply', id, ok: true, result }] }
  }

  function encode(command: ClientFrame): EncodeResult<string> {
    switch (command.type) {
      case 'subscribe':
        return channelFrame('subscribe', command.id, command.channels.map((c) => c.channel))
      case 'unsubscribe':
        return channelFrame('unsubscribe', command.id, command.channels)
      case 'ping':
        return { ok: true, frame: '{"type":"ping"}' }
      case 'pong':
        return { ok: true, frame: '{"type":"pong"}' }
      case 'ack':
        return unsupported('webgui', 'acknowledgements')
      default:
        return unsupportedCommand('webgui', command.type)
    }
  }
}

export const webgui: Codec<string> = createWebguiCodec()
