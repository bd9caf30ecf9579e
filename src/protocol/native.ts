import * as z from 'zod/mini'
import type { Capabilities, Codec, DecodeResult, EncodeResult } from './codec'
import { ErrorCode } from './codes'
import { AgentwireError, ProtocolError } from './errors'
import type { AnyEventDefinitions } from './define'
import { eventSchemas, isEventType, type EventType, type UntypedEvent } from './events'
import {
  AckFrame,
  AuthFrame,
  CommandFrame,
  CancelFrame,
  ErrorFrame,
  EventFrame,
  FeedbackFrame,
  HelloFrame,
  PingFrame,
  PongFrame,
  RefreshFrame,
  RejoinFrame,
  ReplyFrame,
  ServerPingFrame,
  ServerPongFrame,
  StartFrame,
  StateFrame,
  SubscribeFrame,
  UnsubscribeFrame,
  WelcomeFrame,
  type ClientFrame,
  type ServerFrame,
  type ServerMessage,
} from './frames'
import { compileCheck } from './checker'
import { DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_JSON_LENGTH, parseJson, type JsonLimits } from './json'
import { kindOf, printable, validate } from './validate'

// Public through this entry: a CSP-safe fast check for a user's own zod/mini schemas too.
export { compileChecker, type Checker } from './checker'

/**
 * The native codec: agentwire's own JSON text frames (docs/PROTOCOL.md). Decoding dispatches on
 * `type` (and, for events, on `event.type`) straight to one schema, rather than trying a union:
 * faster, and the error names the one shape that was meant.
 */

type AnySchema = z.ZodMiniType

/** How a schema is made fast: e.g. zod's `z.compile`, where `new Function` is allowed. */
export type SchemaCompiler = <S extends AnySchema>(schema: S) => S

export interface AgentwireCodecOptions {
  /** Size and depth caps for incoming frames. @default { maxLength: 1_048_576, maxDepth: 64 } */
  limits?: JsonLimits
  /**
   * Applied once to every schema the codec uses, e.g. `z.compile` from `zod/mini` for a faster
   * hot path. Off by default: compiling needs `new Function` (a strict CSP forbids it) and adds
   * several KB to a browser bundle, so the caller opts in by passing the compiler.
   * @default undefined (schemas run as built)
   */
  compile?: SchemaCompiler
  /**
   * The application's own event types (`defineEvents`): their events are validated against
   * their schemas like built-in ones. An event of a type neither built in nor here is passed
   * on untyped, as `agentwire:{type}`, with its position.
   * @default undefined (built-in events only)
   */
  events?: AnyEventDefinitions
}

const SERVER_SCHEMAS = {
  welcome: WelcomeFrame,
  reply: ReplyFrame,
  state: StateFrame,
  error: ErrorFrame,
  refresh: RefreshFrame,
  ping: ServerPingFrame,
  pong: ServerPongFrame,
} as const satisfies Record<Exclude<ServerFrame['type'], 'event'>, AnySchema>

const CLIENT_SCHEMAS = {
  hello: HelloFrame,
  auth: AuthFrame,
  subscribe: SubscribeFrame,
  unsubscribe: UnsubscribeFrame,
  rejoin: RejoinFrame,
  start: StartFrame,
  cancel: CancelFrame,
  feedback: FeedbackFrame,
  ack: AckFrame,
  command: CommandFrame,
  ping: PingFrame,
  pong: PongFrame,
} as const satisfies Record<ClientFrame['type'], AnySchema>

export const SERVER_FRAME_TYPES = ['event', ...Object.keys(SERVER_SCHEMAS)] as ReadonlyArray<ServerFrame['type']>
export const CLIENT_FRAME_TYPES = Object.keys(CLIENT_SCHEMAS) as ReadonlyArray<ClientFrame['type']>

const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k)

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

type EventCheck = (value: unknown, maxDepth: number) => unknown

/** How every event frame the gateway writes begins (`encodeServerFrame` of a frame built type first). */
const HOT_PREFIX = '{"type":"event",'

/** An event frame of a type nobody registered: the envelope checked, the payload kept as it came. */
const UntypedEventFrame = z.extend(EventFrame, { event: z.object({ type: z.string().check(z.minLength(1), z.maxLength(128)), payload: z.optional(z.unknown()) }) })

/** A native codec with its own limits or a schema compiler. `dialects.agentwire` is `createAgentwireCodec()`. */
export function createAgentwireCodec(options: AgentwireCodecOptions = {}): Codec<string> {
  const { limits } = options
  const compile: SchemaCompiler = options.compile ?? ((s) => s)
  const serverSchemas = new Map<string, AnySchema>()
  const clientSchemas = new Map<string, AnySchema>()
  const eventFrames = new Map<string, AnySchema>()
  // The hot path: one checker per event type, built from the same schema zod decides with.
  const eventChecks = new Map<string, EventCheck | null>()
  const maxLength = limits?.maxLength ?? DEFAULT_MAX_JSON_LENGTH
  const maxDepth = limits?.maxDepth ?? DEFAULT_MAX_JSON_DEPTH
  const events = options.events
  /** The application's event frame schemas and the untyped envelope, made on first use. */
  const userFrames = new Map<string, AnySchema>()
  const userEnvelope = (type: string): AnySchema => z.extend(EventFrame, { event: z.object({ type: z.literal(type), payload: events!.schemas[type] as AnySchema }) })
  const userFrame = (type: string): AnySchema => {
    let s = userFrames.get(type)
    if (s === undefined) userFrames.set(type, (s = compile(userEnvelope(type))))
    return s
  }

  const serverSchema = (type: string): AnySchema | undefined => {
    let s = serverSchemas.get(type)
    if (s === undefined && has(SERVER_SCHEMAS, type)) serverSchemas.set(type, (s = compile(SERVER_SCHEMAS[type as keyof typeof SERVER_SCHEMAS])))
    return s
  }
  const clientSchema = (type: string): AnySchema | undefined => {
    let s = clientSchemas.get(type)
    if (s === undefined && has(CLIENT_SCHEMAS, type)) clientSchemas.set(type, (s = compile(CLIENT_SCHEMAS[type as keyof typeof CLIENT_SCHEMAS])))
    return s
  }
  // One event frame schema per event type, made on first use: the envelope plus that event.
  const eventFrame = (type: EventType): AnySchema => {
    let s = eventFrames.get(type)
    if (s === undefined) eventFrames.set(type, (s = compile(z.extend(EventFrame, { event: eventSchemas[type] }))))
    return s
  }
  /** The checker of one event type's frame; none for a type this version does not know. */
  const eventCheck = (type: unknown): EventCheck | null | undefined => {
    let c = eventChecks.get(type as string)
    if (c === undefined && isEventType(type)) eventChecks.set(type, (c = compileCheck(z.extend(EventFrame, { event: eventSchemas[type] })) ?? null))
    // The application's types take the same fast path, where their schema allows a checker.
    else if (c === undefined && events?.has(type)) eventChecks.set(type as string, (c = compileCheck(userEnvelope(type as string)) ?? null))
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
          return { ok: false, error: new ProtocolError(ErrorCode.BadRequest, `"event" expects event to be an object, got ${event === undefined ? 'nothing' : kindOf(event)}`, { path: ['event'] }) }
        }
        const eventType = (event as { type?: unknown }).type
        if (typeof eventType !== 'string') {
          return { ok: false, error: new ProtocolError(ErrorCode.BadRequest, `"event" expects event.type to be a string, got ${eventType === undefined ? 'nothing' : kindOf(eventType)}`, { path: ['event', 'type'] }) }
        }
        if (events?.has(eventType)) {
          const fast = eventCheck(eventType)?.(value, maxDepth)
          if (fast !== undefined) return { ok: true, messages: [fast as ServerMessage] }
          const checked = validate(userFrame(eventType), value, 'event')
          return checked.ok ? { ok: true, messages: [checked.value as ServerMessage] } : checked
        }
        // Forward compatible: a type nobody registered here (a newer gateway's, the
        // application's own) is passed on untyped, with its position.
        if (!isEventType(eventType)) {
          const checked = validate(UntypedEventFrame, value, 'event')
          if (!checked.ok) return checked
          const frame = checked.value as unknown as { event: { type: string; payload?: unknown } } & Record<string, unknown>
          const untyped: UntypedEvent = { type: `agentwire:${frame.event.type}`, payload: frame.event.payload, untyped: true }
          return { ok: true, messages: [{ ...frame, event: untyped } as unknown as ServerMessage] }
        }
        // The checker accepts only what zod accepts; zod decides every frame it defers, and words the error.
        const fast = eventCheck(eventType)?.(value, maxDepth)
        if (fast !== undefined) return { ok: true, messages: [fast as ServerMessage] }
        const checked = validate(eventFrame(eventType), value, 'event')
        return checked.ok ? { ok: true, messages: [checked.value as ServerMessage] } : checked
      }
      const schema = serverSchema(type)
      if (schema === undefined) return { ok: true, messages: [], unknown: type }
      const checked = validate(schema, value, type)
      return checked.ok ? { ok: true, messages: [checked.value as ServerMessage] } : checked
    },
    encode(command: ClientFrame): EncodeResult<string> {
      const checked = checkClientFrame(command, clientSchema)
      if (!checked.ok) return checked
      return { ok: true, frame: JSON.stringify(checked.frame) }
    },
  }
}

export type ClientFrameResult = { ok: true; frame: ClientFrame } | { ok: false; error: ProtocolError }

const defaultClientSchema = (type: string): AnySchema | undefined => (has(CLIENT_SCHEMAS, type) ? CLIENT_SCHEMAS[type as keyof typeof CLIENT_SCHEMAS] : undefined)

/**
 * Gateway side: decodes one client frame. Same rules as the client's decoder, except that an
 * unknown `type` is an error (code `unknown_type`): the gateway answers it with close 4400,
 * since a client speaking a protocol the gateway does not know cannot be served.
 */
export function decodeClientFrame(text: unknown, limits?: JsonLimits): ClientFrameResult {
  const parsed = parseJson(text, limits)
  if (!parsed.ok) return parsed
  return checkClientFrame(parsed.value, defaultClientSchema)
}

/** Gateway side: a server frame as JSON text. Not validated: the gateway builds frames from typed values. */
export function encodeServerFrame(frame: ServerFrame): string {
  return JSON.stringify(frame)
}

function checkClientFrame(value: unknown, schemaFor: (type: string) => AnySchema | undefined): ClientFrameResult {
  const type = frameType(value)
  if (typeof type !== 'string') return { ok: false, error: typeError(value, type, 'client') }
  const schema = schemaFor(type)
  if (schema === undefined) {
    return { ok: false, error: new ProtocolError(ErrorCode.UnknownType, `unknown client frame type "${printable(type)}": expected one of ${CLIENT_FRAME_TYPES.join(', ')}`, { path: ['type'] }) }
  }
  const checked = validate(schema, value, type)
  return checked.ok ? { ok: true, frame: checked.value as ClientFrame } : checked
}

/** The `type` of a frame object, or a marker of why there is none. */
function frameType(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return NOT_OBJECT
  return (value as { type?: unknown }).type
}
const NOT_OBJECT = Symbol('not an object')

function typeError(value: unknown, type: unknown, side: 'client' | 'server'): ProtocolError {
  if (type === NOT_OBJECT) return new ProtocolError(ErrorCode.BadRequest, `expected a ${side} frame object, got ${kindOf(value)}`)
  return new ProtocolError(ErrorCode.BadRequest, `expected a ${side} frame with a string "type", got ${type === undefined ? 'nothing' : kindOf(type)}`, { path: ['type'] })
}

/** A plain "this backend cannot do that", for dialects. */
export function unsupported(backend: string, command: string): { ok: false; error: AgentwireError } {
  return { ok: false, error: new AgentwireError(ErrorCode.Unsupported, `the ${backend} backend has no "${command}" command`) }
}
