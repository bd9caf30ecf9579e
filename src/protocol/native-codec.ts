import type { Capabilities, Codec, DecodeResult, EncodeResult } from './codec'
import { ERROR_BAD_REQUEST, ERROR_UNKNOWN_TYPE, ERROR_UNSUPPORTED } from './code-values'
import { AgentwireError, ProtocolError } from './errors'
import type { AnyEventDefinitions } from './define'
import { isEventType } from './event-types'
import type { UntypedEvent } from './events'
import type { ClientFrame, ServerFrame, ServerMessage } from './frames'
import { DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_JSON_LENGTH, parseJson, type JsonLimits } from './json'
import { kindOf, printable, type Validated } from './validate'

/**
 * The native codec's shell: agentwire's own JSON text frames (docs/PROTOCOL.md), with what
 * validates each frame left to the caller. `createAgentwireCodec` (./native) validates with the
 * zod schemas; `createClientCodec` (./client-codec), what `createClient` uses, with the specs
 * generated from them, so a browser bundle carries no zod. Both accept, return and refuse the
 * same frames, with the same errors.
 *
 * Decoding dispatches on `type` (and, for events, on `event.type`) straight to one validator,
 * rather than trying a union: faster, and the error names the one shape that was meant.
 */

/** Holds one value to one frame schema. */
export type FrameValidator = (value: unknown) => Validated<unknown>
/** A fast check: the output, or `undefined` for "ask the validator" (see ./checker). */
export type FrameCheck = (value: unknown, maxDepth: number) => unknown

/** What a native codec validates frames with, each made once per type on first use. */
export interface NativeValidators {
  /** A server frame other than `event`; undefined for a type this version does not know. */
  server(type: string): FrameValidator | undefined
  /** A client frame; undefined for a type that is not one. */
  client(type: string): FrameValidator | undefined
  /** An event frame of a built-in type. */
  event(type: string): FrameValidator
  /** An event frame of one of the application's types (`events`). */
  user(type: string): FrameValidator
  /** An event frame of a type nobody registered: the envelope checked, the payload kept as it came. */
  untyped: FrameValidator
  /** The fast check of a built-in or the application's event frame, or null when there is none. */
  check(type: string): FrameCheck | null
}

export interface NativeCodecOptions {
  /** Size and depth caps for incoming frames. @default { maxLength: 1_048_576, maxDepth: 64 } */
  limits?: JsonLimits
  /**
   * The application's own event types (`defineEvents`): their events are validated against
   * their schemas like built-in ones. An event of a type neither built in nor here is passed
   * on untyped, as `agentwire:{type}`, with its position.
   * @default undefined (built-in events only)
   */
  events?: AnyEventDefinitions
}

export const SERVER_FRAME_TYPES: ReadonlyArray<ServerFrame['type']> = ['event', 'welcome', 'reply', 'state', 'error', 'refresh', 'ping', 'pong']
export const CLIENT_FRAME_TYPES: ReadonlyArray<ClientFrame['type']> = ['hello', 'auth', 'subscribe', 'unsubscribe', 'rejoin', 'start', 'cancel', 'feedback', 'ack', 'command', 'ping', 'pong']

export const NATIVE_CAPABILITIES: Capabilities = Object.freeze({
  handshake: true,
  serverSubscribe: true,
  resume: true,
  positions: true,
  rejoin: true,
  commands: true,
  heartbeat: 'native',
  strict: true,
})

/** How every event frame the gateway writes begins (`encodeServerFrame` of a frame built type first). */
const HOT_PREFIX = '{"type":"event",'

/** A native codec validating with `validators`. */
export function nativeCodec(validators: NativeValidators, options: NativeCodecOptions = {}): Codec<string> {
  const { limits, events } = options
  const maxLength = limits?.maxLength ?? DEFAULT_MAX_JSON_LENGTH
  const maxDepth = limits?.maxDepth ?? DEFAULT_MAX_JSON_DEPTH
  // The hot path: one checker per event type, built from the same schema that decides.
  const checks = new Map<string, FrameCheck | null>()
  /** The checker of one event type's frame; none for a type nobody registered. */
  const eventCheck = (type: unknown): FrameCheck | null | undefined => {
    let c = checks.get(type as string)
    if (c === undefined && (isEventType(type) || events?.has(type))) checks.set(type as string, (c = validators.check(type as string)))
    return c
  }
  /**
   * The hot path, for event frames as the gateway writes them (`type` first): `JSON.parse` and
   * the event type's checker, with no scan of the text. The checker holds the value to the
   * limits `parseJson` enforces (depth, no prototype keys) and defers whenever it is not
   * certain; then the careful path decides, exactly as if this one did not exist.
   */
  const hot = (text: string): ServerMessage | undefined => {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return undefined
    }
    // An object: the text starts with `{`.
    const event = (value as { event?: unknown }).event
    if (typeof event !== 'object' || event === null) return undefined
    return eventCheck((event as { type?: unknown }).type)?.(value, maxDepth) as ServerMessage | undefined
  }

  return {
    name: 'agentwire',
    capabilities: NATIVE_CAPABILITIES,
    decode(frame: unknown): DecodeResult {
      if (typeof frame === 'string' && frame.length <= maxLength && frame.startsWith(HOT_PREFIX)) {
        const message = hot(frame)
        if (message !== undefined) return { ok: true, messages: [message] }
      }
      const parsed = parseJson(frame, limits)
      if (!parsed.ok) return parsed
      const value = parsed.value
      const type = frameType(value)
      if (typeof type !== 'string') return { ok: false, error: typeError(value, type, 'server') }
      if (type === 'event') {
        const event = (value as { event?: unknown }).event
        if (event === null || typeof event !== 'object' || Array.isArray(event)) {
          return { ok: false, error: new ProtocolError(ERROR_BAD_REQUEST, `"event" expects event to be an object, got ${event === undefined ? 'nothing' : kindOf(event)}`, { path: ['event'] }) }
        }
        const eventType = (event as { type?: unknown }).type
        if (typeof eventType !== 'string') {
          return { ok: false, error: new ProtocolError(ERROR_BAD_REQUEST, `"event" expects event.type to be a string, got ${eventType === undefined ? 'nothing' : kindOf(eventType)}`, { path: ['event', 'type'] }) }
        }
        if (events?.has(eventType)) {
          const fast = eventCheck(eventType)?.(value, maxDepth)
          if (fast !== undefined) return { ok: true, messages: [fast as ServerMessage] }
          const checked = validators.user(eventType)(value)
          return checked.ok ? { ok: true, messages: [checked.value as ServerMessage] } : checked
        }
        // Forward compatible: a type nobody registered here (a newer gateway's, the
        // application's own) is passed on untyped, with its position.
        if (!isEventType(eventType)) {
          const checked = validators.untyped(value)
          if (!checked.ok) return checked
          const frame = checked.value as { event: { type: string; payload?: unknown } } & Record<string, unknown>
          const untyped: UntypedEvent = { type: `agentwire:${frame.event.type}`, payload: frame.event.payload, untyped: true }
          return { ok: true, messages: [{ ...frame, event: untyped } as unknown as ServerMessage] }
        }
        // The checker accepts only what the validator accepts; the validator decides every frame it defers, and words the error.
        const fast = eventCheck(eventType)?.(value, maxDepth)
        if (fast !== undefined) return { ok: true, messages: [fast as ServerMessage] }
        const checked = validators.event(eventType)(value)
        return checked.ok ? { ok: true, messages: [checked.value as ServerMessage] } : checked
      }
      const validator = validators.server(type)
      if (validator === undefined) return { ok: true, messages: [], unknown: type }
      const checked = validator(value)
      return checked.ok ? { ok: true, messages: [checked.value as ServerMessage] } : checked
    },
    encode(command: ClientFrame): EncodeResult<string> {
      const checked = checkClientFrame(command, validators.client)
      if (!checked.ok) return checked
      return { ok: true, frame: JSON.stringify(checked.frame) }
    },
  }
}

export type ClientFrameResult = { ok: true; frame: ClientFrame } | { ok: false; error: ProtocolError }

/** A client frame held to its validator; an unknown `type` is an error (code `unknown_type`). */
export function checkClientFrame(value: unknown, validatorFor: (type: string) => FrameValidator | undefined): ClientFrameResult {
  const type = frameType(value)
  if (typeof type !== 'string') return { ok: false, error: typeError(value, type, 'client') }
  const validator = validatorFor(type)
  if (validator === undefined) {
    return { ok: false, error: new ProtocolError(ERROR_UNKNOWN_TYPE, `unknown client frame type "${printable(type)}": expected one of ${CLIENT_FRAME_TYPES.join(', ')}`, { path: ['type'] }) }
  }
  const checked = validator(value)
  return checked.ok ? { ok: true, frame: checked.value as ClientFrame } : checked
}

/** Gateway side: a server frame as JSON text. Not validated: the gateway builds frames from typed values. */
export function encodeServerFrame(frame: ServerFrame): string {
  return JSON.stringify(frame)
}

/** The `type` of a frame object, or a marker of why there is none. */
function frameType(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return NOT_OBJECT
  return (value as { type?: unknown }).type
}
const NOT_OBJECT = Symbol('not an object')

function typeError(value: unknown, type: unknown, side: 'client' | 'server'): ProtocolError {
  if (type === NOT_OBJECT) return new ProtocolError(ERROR_BAD_REQUEST, `expected a ${side} frame object, got ${kindOf(value)}`)
  return new ProtocolError(ERROR_BAD_REQUEST, `expected a ${side} frame with a string "type", got ${type === undefined ? 'nothing' : kindOf(type)}`, { path: ['type'] })
}

/** A plain "this backend cannot do that", for dialects. */
export function unsupported(backend: string, command: string): { ok: false; error: AgentwireError } {
  return { ok: false, error: new AgentwireError(ERROR_UNSUPPORTED, `the ${backend} backend has no "${command}" command`) }
}
