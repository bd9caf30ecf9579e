import { parseChannel } from '../channels'
import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import { ErrorCode } from '../codes'
import { AgentwireError, ProtocolError } from '../errors'
import { eventSchemas, type AgentEvent, type AgentStatusValue, type EventType, type PayloadOf } from '../events'
import type { ClientFrame, EventMessage } from '../frames'
import { parseJson, sanitizeValue } from '../json'
import { kindOf, printable, validate } from '../validate'

/** What the seed dialects share: reading frames safely, and building validated canonical events. */

export type Obj = Record<string, unknown>

export const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)

/** A text frame parsed to an object with a string `type`, or why not. */
export function readTypedText(frame: unknown, backend: string): { ok: true; value: Obj; type: string } | { ok: false; error: ProtocolError } {
  const parsed = parseJson(frame)
  if (!parsed.ok) return parsed
  return typed(parsed.value, backend)
}

/**
 * A codec for a backend whose frames are JSON text objects with a `type`: the frame is read
 * and checked once here, and `decode` sees only its type and object.
 */
export function textCodec(
  name: string,
  capabilities: Capabilities,
  decode: (type: string, value: Obj) => DecodeResult,
  encode: (command: ClientFrame) => EncodeResult<string>,
): Codec<string> {
  return {
    name,
    capabilities,
    decode(frame: unknown): DecodeResult {
      const read = readTypedText(frame, name)
      return read.ok ? decode(read.type, read.value) : read
    },
    encode,
  }
}

export function typed(value: unknown, backend: string): { ok: true; value: Obj; type: string } | { ok: false; error: ProtocolError } {
  if (!isObj(value)) return { ok: false, error: new ProtocolError(ErrorCode.BadRequest, `expected a ${backend} frame object, got ${kindOf(value)}`) }
  const type = value.type
  if (typeof type !== 'string') {
    return { ok: false, error: new ProtocolError(ErrorCode.BadRequest, `expected a ${backend} frame with a string "type", got ${type === undefined ? 'nothing' : kindOf(type)}`, { path: ['type'] }) }
  }
  return { ok: true, value, type }
}

/** A Socket.IO frame `[event, ...args]`, parsed elsewhere: sanitized here (depth, prototype keys). */
export function readSocketIo(frame: unknown, backend: string): { ok: true; name: string; args: unknown[] } | { ok: false; error: ProtocolError } {
  if (!Array.isArray(frame)) {
    return { ok: false, error: new ProtocolError(ErrorCode.BadRequest, `expected a ${backend} Socket.IO frame [event, ...args], got ${frame === undefined ? 'nothing' : kindOf(frame)}`) }
  }
  const name = frame[0]
  if (typeof name !== 'string') {
    return { ok: false, error: new ProtocolError(ErrorCode.BadRequest, `expected a ${backend} Socket.IO frame to start with an event name, got ${name === undefined ? 'nothing' : kindOf(name)}`, { path: [0] }) }
  }
  const clean = sanitizeValue(frame)
  if (!clean.ok) return clean
  return { ok: true, name, args: frame.slice(1) }
}

/** Copies `o` without its `undefined` values, so optional fields stay absent rather than present-and-undefined. */
export function defined<T extends Obj>(o: T): T {
  const out = {} as Obj
  for (const k of Object.keys(o)) if (o[k] !== undefined) out[k] = o[k]
  return out as T
}

/**
 * Validates a canonical event built from a backend frame named `label` and wraps it as a
 * message on `channel(payload)`. The channel is built from the validated payload, and checked.
 */
export function eventOn<T extends EventType>(label: string, type: T, payload: unknown, channel: (payload: PayloadOf<T>) => string): DecodeResult {
  const checked = validate(eventSchemas[type], { type, payload: isObj(payload) ? defined(payload) : payload }, label)
  if (!checked.ok) return checked
  const event = checked.value as AgentEvent
  const name = channel(event.payload as PayloadOf<T>)
  const parsedChannel = parseChannel(name)
  if (!parsedChannel.ok || parsedChannel.pattern) {
    return { ok: false, error: new ProtocolError(ErrorCode.BadRequest, `"${label}" names channel "${printable(name)}", which is not a valid channel: ${parsedChannel.ok ? 'a pattern' : parsedChannel.reason}`) }
  }
  const message: EventMessage = { type: 'event', channel: parsedChannel.channel, event }
  return { ok: true, messages: [message] }
}

export function unknown(type: string): DecodeResult {
  return { ok: true, messages: [], unknown: type }
}

/** A plain "this backend cannot do that". */
export function unsupported(backend: string, what: string): { ok: false; error: AgentwireError } {
  return { ok: false, error: new AgentwireError(ErrorCode.Unsupported, `the ${backend} backend has no ${what}`) }
}

export function unsupportedCommand(backend: string, command: string): { ok: false; error: AgentwireError } {
  return unsupported(backend, `"${command}" command`)
}

/**
 * Agent status words the seed backends use, normalised to the canonical three. Lower-cased
 * before lookup. Anything else is an error rather than a guess.
 */
export const AGENT_STATUS_SYNONYMS: Readonly<Record<string, AgentStatusValue>> = Object.freeze({
  available: 'available',
  idle: 'available',
  ready: 'available',
  online: 'available',
  active: 'available',
  waiting: 'available',
  busy: 'busy',
  running: 'busy',
  working: 'busy',
  processing: 'busy',
  thinking: 'busy',
  executing: 'busy',
  offline: 'offline',
  stopped: 'offline',
  inactive: 'offline',
  disabled: 'offline',
  terminated: 'offline',
  disconnected: 'offline',
  deleted: 'offline',
})

/** The canonical status for a backend's word, or a typed error naming what came and what is accepted. */
export function normaliseAgentStatus(label: string, path: string, value: unknown): { ok: true; status: AgentStatusValue } | { ok: false; error: ProtocolError } {
  if (typeof value === 'string') {
    const key = value.toLowerCase()
    if (Object.prototype.hasOwnProperty.call(AGENT_STATUS_SYNONYMS, key)) return { ok: true, status: AGENT_STATUS_SYNONYMS[key]! }
  }
  const got = typeof value === 'string' ? JSON.stringify(printable(value)) : value === undefined ? 'nothing' : kindOf(value)
  return {
    ok: false,
    error: new ProtocolError(ErrorCode.BadRequest, `"${label}" expects ${path} to be an agent status (one of ${Object.keys(AGENT_STATUS_SYNONYMS).join(', ')}), got ${got}`, {
      path: path.split('.'),
    }),
  }
}

/** Splits a canonical channel into family and id (`agent:planner` → `['agent', 'planner']`). */
export function splitChannel(channel: string): [string, string | undefined] {
  const i = channel.indexOf(':')
  return i === -1 ? [channel, undefined] : [channel.slice(0, i), channel.slice(i + 1)]
}
