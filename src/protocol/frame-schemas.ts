import type * as z from 'zod/mini'
import {
  AckFrame,
  AuthFrame,
  CancelFrame,
  CommandFrame,
  ErrorFrame,
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
} from './frames'

/**
 * Each frame's schema by its `type`: what the native codec validates with, what `npm run gen`
 * turns into the client's specs, and what the test holds those specs to. Events are not here:
 * their schema is the envelope plus the event type's (`eventSchemas`). Internal.
 */
export const SERVER_FRAME_SCHEMAS = {
  welcome: WelcomeFrame,
  reply: ReplyFrame,
  state: StateFrame,
  error: ErrorFrame,
  refresh: RefreshFrame,
  ping: ServerPingFrame,
  pong: ServerPongFrame,
} as const satisfies Record<Exclude<ServerFrame['type'], 'event'>, z.ZodMiniType>

export const CLIENT_FRAME_SCHEMAS = {
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
} as const satisfies Record<ClientFrame['type'], z.ZodMiniType>
