import * as z from 'zod/mini'
import type { Codec } from './codec'
import type { AnyEventDefinitions } from './define'
import { eventSchemas, type EventType } from './events'
import { CLIENT_FRAME_SCHEMAS, SERVER_FRAME_SCHEMAS } from './frame-schemas'
import { EventFrame, UntypedEventFrame } from './frames'
import { compileCheck } from './checker'
import { parseJson, type JsonLimits } from './json'
import { checkClientFrame, nativeCodec, type ClientFrameResult, type FrameValidator } from './native-codec'
import { validate } from './validate'
import { hasKey } from './records'

// Public through this entry: a CSP-safe fast check for a user's own zod/mini schemas too.
export { compileChecker, type Checker } from './checker'

/**
 * The native codec with the zod schemas deciding (./native-codec has the frames' rules). The
 * gateway and `dialects.agentwire` use it; `createClient` uses `createClientCodec`, the same
 * codec on the specs generated from these schemas.
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


/** A native codec with its own limits or a schema compiler. `dialects.agentwire` is `createAgentwireCodec()`. */
export function createAgentwireCodec(options: AgentwireCodecOptions = {}): Codec<string> {
  const compile: SchemaCompiler = options.compile ?? ((s) => s)
  const events = options.events
  /** Each schema made (and compiled) once, on first use. */
  const made = new Map<string, AnySchema>()
  const once = (key: string, make: () => AnySchema): AnySchema => {
    let s = made.get(key)
    if (s === undefined) made.set(key, (s = compile(make())))
    return s
  }
  const validator = (schema: AnySchema, frame: string): FrameValidator => (value) => validate(schema, value, frame)
  const userEnvelope = (type: string): AnySchema => z.extend(EventFrame, { event: z.object({ type: z.literal(type), payload: events!.schemas[type] as AnySchema }) })
  return nativeCodec(
    {
      server: (type) => (hasKey(SERVER_FRAME_SCHEMAS, type) ? validator(once(`server ${type}`, () => SERVER_FRAME_SCHEMAS[type as keyof typeof SERVER_FRAME_SCHEMAS]), type) : undefined),
      client: (type) => (hasKey(CLIENT_FRAME_SCHEMAS, type) ? validator(once(`client ${type}`, () => CLIENT_FRAME_SCHEMAS[type as keyof typeof CLIENT_FRAME_SCHEMAS]), type) : undefined),
      // One event frame schema per event type, made on first use: the envelope plus that event.
      event: (type) => validator(once(`event ${type}`, () => z.extend(EventFrame, { event: eventSchemas[type as EventType] })), 'event'),
      user: (type) => validator(once(`user ${type}`, () => userEnvelope(type)), 'event'),
      untyped: (value) => validate(UntypedEventFrame, value, 'event'),
      // The checker is built from the schema as it is, uncompiled; the application's types take
      // the same fast path, where their schema allows a checker.
      check: (type) => compileCheck(hasKey(eventSchemas, type) ? z.extend(EventFrame, { event: eventSchemas[type as EventType] }) : userEnvelope(type)) ?? null,
    },
    options,
  )
}

const defaultClientSchema = (type: string): FrameValidator | undefined =>
  hasKey(CLIENT_FRAME_SCHEMAS, type) ? (value) => validate(CLIENT_FRAME_SCHEMAS[type as keyof typeof CLIENT_FRAME_SCHEMAS], value, type) : undefined

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
