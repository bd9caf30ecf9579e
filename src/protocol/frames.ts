import * as z from 'zod/mini'
import type { UserEvent } from './define'
import { AgentEventSchema, type AgentEvent, type UntypedEvent } from './events'
import { MAX_SUBSCRIBE_BATCH } from './limits'

/**
 * Native frames: JSON text, one object per WebSocket message, discriminated on `type`.
 * docs/PROTOCOL.md is the spec; this file is its source of truth.
 */

const id = z.string().check(z.minLength(1), z.maxLength(128))
const channel = z.string().check(z.minLength(1), z.maxLength(160))
const epoch = z.string().check(z.minLength(1), z.maxLength(64))
const seq = z.int().check(z.gte(0))
const record = z.record(z.string(), z.unknown())

/** A position on a channel: the last event seen. `seq` 0 means none yet. */
export const PositionSchema = z.object({ channel, epoch, seq })
export type Position = z.infer<typeof PositionSchema>

/** One channel to subscribe to, with where the client left off (for a pattern, one position per concrete channel). */
export const SubscribeItemSchema = z.object({
  channel,
  resume: z.optional(z.array(PositionSchema).check(z.maxLength(1000))),
})
export type SubscribeItem = z.infer<typeof SubscribeItemSchema>

// ── client → server ────────────────────────────────────────────────────────────────────

export const HelloFrame = z.object({
  type: z.literal('hello'),
  v: z.int(),
  token: z.optional(z.string().check(z.maxLength(8192))),
  /** Subscriptions to restore at once, answered in `welcome.subscriptions`. */
  resume: z.optional(z.array(SubscribeItemSchema).check(z.maxLength(MAX_SUBSCRIBE_BATCH))),
  client: z.optional(z.string().check(z.maxLength(128))),
})
export const AuthFrame = z.object({ type: z.literal('auth'), id, token: z.string().check(z.maxLength(8192)) })
export const SubscribeFrame = z.object({
  type: z.literal('subscribe'),
  id,
  channels: z.array(SubscribeItemSchema).check(z.minLength(1), z.maxLength(MAX_SUBSCRIBE_BATCH)),
})
export const UnsubscribeFrame = z.object({
  type: z.literal('unsubscribe'),
  id,
  channels: z.array(channel).check(z.minLength(1), z.maxLength(MAX_SUBSCRIBE_BATCH)),
})
export const RejoinFrame = z.object({ type: z.literal('rejoin'), id, requestId: id })
export const StartFrame = z.object({
  type: z.literal('start'),
  id,
  requestId: id,
  query: z.string().check(z.maxLength(65_536)),
  context: z.optional(record),
})
export const CancelFrame = z.object({ type: z.literal('cancel'), id, requestId: id, reason: z.optional(z.string().check(z.maxLength(1024))) })
export const FeedbackFrame = z.object({ type: z.literal('feedback'), id, requestId: id, questionId: id, answer: z.unknown() })
/** Acknowledges receipt or reading of an event (the rooms seed's message:received / message:read). */
export const AckFrame = z.object({
  type: z.literal('ack'),
  id: z.optional(id),
  channel,
  seq: z.optional(seq),
  messageId: z.optional(id),
  kind: z.optional(z.enum(['received', 'read'])),
})
/**
 * One of the application's own commands (`defineCommands`): the gateway validates `payload`
 * against the schema registered under `name` and hands it to `onCommand`; an unknown name is
 * answered `unknown_command`.
 */
export const CommandFrame = z.object({
  type: z.literal('command'),
  id,
  name: z.string().check(z.minLength(1), z.maxLength(128)),
  payload: z.optional(z.unknown()),
})
export const PingFrame = z.object({ type: z.literal('ping'), t: z.optional(z.number()) })
export const PongFrame = z.object({ type: z.literal('pong'), t: z.optional(z.number()) })

export const ClientFrameSchema = z.discriminatedUnion('type', [
  HelloFrame,
  AuthFrame,
  SubscribeFrame,
  UnsubscribeFrame,
  RejoinFrame,
  StartFrame,
  CancelFrame,
  FeedbackFrame,
  AckFrame,
  CommandFrame,
  PingFrame,
  PongFrame,
])
export type ClientFrame = z.infer<typeof ClientFrameSchema>
export type ClientFrameType = ClientFrame['type']
export type ClientFrameOf<T extends ClientFrameType> = Extract<ClientFrame, { type: T }>

// ── server → client ────────────────────────────────────────────────────────────────────

export const ErrorBodySchema = z.object({
  code: z.string().check(z.maxLength(64)),
  message: z.string().check(z.maxLength(1024)),
  retryable: z.optional(z.boolean()),
  /** A foreign backend's error frame as it came (set by seed codecs; the gateway never sends it). */
  raw: z.optional(z.unknown()),
})
export type ErrorBody = z.infer<typeof ErrorBodySchema>

/** The outcome of subscribing one channel. */
export const SubscribeResultSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    channel,
    /**
     * `true`: every event after the client's position follows as `event` frames (replay, then live).
     * `false`: the position could not be honoured (none given, window exceeded, epoch changed);
     * `state` frames with the channel's snapshot follow instead.
     */
    recovered: z.boolean(),
    /**
     * A pattern's own position: the channels born so far (`seq`) in the broker's count `epoch`.
     * The client sends it back in `resume` under the pattern's name; channels born after it
     * then come from their first event, or with a `window` state when that left the window.
     */
    position: z.optional(z.object({ epoch, seq })),
  }),
  z.object({ ok: z.literal(false), channel, error: ErrorBodySchema }),
])
export type SubscribeResult = z.infer<typeof SubscribeResultSchema>

export const WelcomeFrame = z.object({
  type: z.literal('welcome'),
  v: z.int(),
  session: id,
  /** How often the gateway expects to hear from the client, and pings when idle. */
  heartbeatMs: z.int().check(z.gte(0)),
  limits: z.optional(z.record(z.string(), z.number())),
  subscriptions: z.optional(z.array(SubscribeResultSchema)),
})
export const ReplyFrame = z.discriminatedUnion('ok', [
  z.object({ type: z.literal('reply'), id, ok: z.literal(true), result: z.optional(z.unknown()) }),
  z.object({ type: z.literal('reply'), id, ok: z.literal(false), error: ErrorBodySchema }),
])
export const EventFrame = z.object({
  type: z.literal('event'),
  channel,
  epoch,
  seq: z.int().check(z.gte(1)),
  /** Milliseconds since the Unix epoch at which the gateway accepted the event. */
  time: z.optional(z.number()),
  event: AgentEventSchema,
})
/** An event frame of a type nobody registered: the envelope checked, the payload kept as it came. */
export const UntypedEventFrame = z.extend(EventFrame, { event: z.object({ type: z.string().check(z.minLength(1), z.maxLength(128)), payload: z.optional(z.unknown()) }) })
/**
 * A channel's state, built with `reduce` from every event up to `seq`. Events at or below
 * `seq` that arrive after it are duplicates.
 */
export const StateFrame = z.object({
  type: z.literal('state'),
  channel,
  epoch,
  seq,
  reason: z.enum(['initial', 'window', 'epoch', 'gap', 'rejoin']),
  requestId: z.optional(id),
  state: record,
  /** The application's reducer states on this channel, by reducer name (`defineEvents(…).reducer`). */
  reduced: z.optional(record),
})
export const ErrorFrame = z.object({ type: z.literal('error'), error: ErrorBodySchema, id: z.optional(id) })
/** The gateway asks for a fresh token before `expiresAt` (ms since epoch); answer with `auth`. */
export const RefreshFrame = z.object({ type: z.literal('refresh'), expiresAt: z.number() })
export const ServerPingFrame = z.object({ type: z.literal('ping'), t: z.optional(z.number()) })
export const ServerPongFrame = z.object({ type: z.literal('pong'), t: z.optional(z.number()) })

export const ServerFrameSchema = z.union([
  WelcomeFrame,
  ReplyFrame,
  EventFrame,
  StateFrame,
  ErrorFrame,
  RefreshFrame,
  ServerPingFrame,
  ServerPongFrame,
])
export type ServerFrame = z.infer<typeof ServerFrameSchema>
export type WelcomeMessage = z.infer<typeof WelcomeFrame>
export type ReplyMessage = z.infer<typeof ReplyFrame>
export type StateMessage = z.infer<typeof StateFrame>
export type ErrorMessage = z.infer<typeof ErrorFrame>

/**
 * An event as a codec hands it to the client. Native frames always carry `epoch` and `seq`;
 * backends that have no positions (see `Capabilities.positions`) leave them out.
 */
export type EventMessage = Omit<z.infer<typeof EventFrame>, 'epoch' | 'seq' | 'event'> & {
  epoch?: string
  seq?: number
  /**
   * A built-in event, one of the application's (`defineEvents`, validated against its schema),
   * or an event of a type nobody registered, passed on untyped (`agentwire:{type}`) with its
   * position, so it is counted, ordered and deduplicated like any other.
   */
  event: AgentEvent | UserEvent | UntypedEvent
}

/** What a codec decodes a frame into: native server frames, with positions optional on events. */
export type ServerMessage = Exclude<ServerFrame, { type: 'event' }> | EventMessage
