import { parseChannel } from '../channels'
import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import { ErrorCode } from '../codes'
import { AgentwireError, ProtocolError } from '../errors'
import { eventSchemas, type AgentEvent, type AgentStatusValue, type EventType, type KnownAgentStatus, type PayloadOf, type UntypedEvent } from '../events'
import type { ClientFrame, EventMessage } from '../frames'
import { parseJson, sanitizeValue } from '../json'
import { kindOf, printable } from '../validate'
import { hasKey } from '../records'

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
 * Builds the canonical event `type` from a foreign frame named `label` and wraps it as a
 * message on `channel(payload)`, with `raw` (the frame's body as it came) on the event.
 * Lenient by design: when the mapped payload is not a valid canonical event (the frame lacks
 * the id the event needs, or a field came in a shape no coercion fixes), or names no valid
 * channel, the frame is not refused: it becomes an {@link UntypedEvent} for
 * `client.on('event')`, with its body as it came.
 */
export function eventOn<T extends EventType>(label: string, type: T, payload: unknown, channel: (payload: PayloadOf<T>) => string, raw?: unknown, codec = 'seed'): DecodeResult {
  const checked = eventSchemas[type].safeParse({ type, payload: isObj(payload) ? defined(payload) : payload })
  if (!checked.success) return untyped(codec, label, raw ?? payload)
  const event = checked.data as AgentEvent
  const parsedChannel = parseChannel(channel(event.payload as PayloadOf<T>))
  if (!parsedChannel.ok || parsedChannel.pattern) return untyped(codec, label, raw ?? payload)
  if (raw !== undefined) (event as { raw?: unknown }).raw = raw
  const message: EventMessage = { type: 'event', channel: parsedChannel.channel, event }
  return { ok: true, messages: [message] }
}

/** A frame no canonical event fits, handed on as it came, on the channel it names (else `global`). */
export function untyped(codec: string, type: string, body: unknown, channel = 'global'): DecodeResult {
  const event: UntypedEvent = { type: `${codec}:${type}`, payload: body, untyped: true }
  const parsed = parseChannel(channel)
  return { ok: true, messages: [], unknown: type, event, channel: parsed.ok && !parsed.pattern ? parsed.channel : 'global' }
}

/** Several decode results as one (a frame that is a step and a question at once). */
export function both(...results: DecodeResult[]): DecodeResult {
  const ok = results.filter((r): r is Extract<DecodeResult, { ok: true }> => r.ok && !('unknown' in r))
  if (ok.length === 0) return results[0]!
  return { ok: true, messages: ok.flatMap((r) => r.messages) }
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

/** A backend's `error` frame as an error message: reported on `client.on('error')` per frame, never a close. */
export function errorFrame(backend: string, body: unknown): DecodeResult {
  const o: Obj = isObj(body) ? body : {}
  const inner: Obj = isObj(o.error) ? o.error : isObj(o.data) ? o.data : o
  const message = text(inner.message) ?? text(o.message) ?? text(o.error) ?? text(o.detail) ?? (typeof body === 'string' ? body : `the ${backend} backend reported an error`)
  const code = text(inner.code) ?? text(o.code)
  const error = { code: code === undefined ? `${backend}_error` : printable(code.toLowerCase(), 64).slice(0, 64), message: message.slice(0, 1024), raw: body }
  return { ok: true, messages: [{ type: 'error', error }] }
}

// ── lenient readers: what a field holds, if it holds what the mapping needs ─────────────

/** A non-empty string (a number becomes its text, as Python's JSON may send ids), else `undefined`. */
export function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return undefined
}

/** An id: the first argument that reads as non-empty text of at most 512 characters. */
export function idOf(...values: unknown[]): string | undefined {
  for (const v of values) {
    const t = text(v)
    if (t !== undefined && t.length <= 512) return t
  }
  return undefined
}

/** A finite number, or a string holding one (`"45"`, `"0.5"`), else `undefined`. */
export function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim().replace(/%$/, ''))
    return Number.isFinite(n) ? n : undefined
  }
  return undefined
}

/** The first of `values` that reads as a number. */
export function firstNum(...values: unknown[]): number | undefined {
  for (const v of values) {
    const n = num(v)
    if (n !== undefined) return n
  }
  return undefined
}

/** An object, else `undefined`. */
export const rec = (v: unknown): Obj | undefined => (isObj(v) ? v : undefined)

/** The strings of an array (others dropped), else `undefined`. */
export function strings(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined
  return v.filter((x): x is string => typeof x === 'string').map((x) => x.slice(0, 256)).slice(0, 1024)
}

/** A timestamp as the canonical events take it: text (ISO) or a number. */
export function stamp(v: unknown): string | number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined
  if (typeof v === 'string' && v.length > 0 && v.length <= 64) return v
  return undefined
}

/** A numeric timestamp: a number or numeric text as it came, an ISO date in epoch seconds (the routing seed's unit). */
export function epoch(v: unknown): number | undefined {
  const n = num(v)
  if (n !== undefined || typeof v !== 'string') return n
  const ms = Date.parse(v)
  return Number.isFinite(ms) ? ms / 1000 : undefined
}

/** Bounded text for a message field (`null` and other kinds → `undefined`). */
export function message(v: unknown): string | undefined {
  const t = text(v)
  return t === undefined ? undefined : t.slice(0, 65_536)
}

/**
 * The numbers in an object, nested ones under dotted keys (`{ cpu: { usage: 0.5 } }` →
 * `{ 'cpu.usage': 0.5 }`), numeric strings read as numbers; anything else is left to `raw`.
 * Aggregates such as counts by status keep every count this way.
 */
export function numbersIn(v: unknown, skip: readonly string[] = [], prefix = '', out: Record<string, number> = {}, depth = 0): Record<string, number> {
  if (!isObj(v) || depth > 4) return out
  for (const key of Object.keys(v)) {
    if (depth === 0 && skip.includes(key)) continue
    const value = v[key]
    const name = `${prefix}${key}`.slice(0, 256)
    const n = typeof value === 'boolean' ? undefined : num(value)
    if (n !== undefined) out[name] = n
    else if (isObj(value)) numbersIn(value, [], `${name}.`, out, depth + 1)
  }
  return out
}

/**
 * Agent status words the seed backends use for the routing seed's three, lower-cased before
 * lookup. A word not listed passes through as it came (`"error"` stays `"error"`).
 */
export const AGENT_STATUS_SYNONYMS: Readonly<Record<string, KnownAgentStatus>> = Object.freeze({
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

/** The canonical status for a backend's word: a synonym of the three, else the word as it came; `undefined` when there is no word. */
export function agentStatus(value: unknown): AgentStatusValue | undefined {
  const word = text(value)
  if (word === undefined) return undefined
  const key = word.toLowerCase()
  return hasKey(AGENT_STATUS_SYNONYMS, key) ? AGENT_STATUS_SYNONYMS[key]! : word.slice(0, 128)
}

/** Splits a canonical channel into family and id (`agent:planner` → `['agent', 'planner']`). */
export function splitChannel(channel: string): [string, string | undefined] {
  const i = channel.indexOf(':')
  return i === -1 ? [channel, undefined] : [channel.slice(0, i), channel.slice(i + 1)]
}
