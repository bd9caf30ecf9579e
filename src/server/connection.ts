import {
  CloseCode,
  ErrorCode,
  PROTOCOL_VERSION,
  decodeClientFrame,
  encodeServerFrame,
  trimCloseReason,
} from 'agentwire/protocol'
import type { ClientFrame, ClientFrameOf, ErrorBody, ServerFrame, SubscribeItem, SubscribeResult } from 'agentwire/protocol'
import type { Broker, StoredEvent } from './broker'
import type { CommandRunner } from './commands'
import type { Fanout, FanoutReceiver } from './fanout'
import type { AuthOutcome, AuthorizeAction, GatewayLogger, HandshakeInfo, Principal, ResolvedLimits } from './options'
import type { DropCause } from './stats'
import type { ServerClock } from './clock'
import { createTokenBucket } from './token-bucket'
import { createSubscriptions, type Subscriptions } from './subscriptions'
import { PhaseView, type Phase } from './phase'
import { createTokenLifetime, readCredentials, type TokenLifetime } from './credentials'
import { createHeartbeat } from './heartbeat'
import type { GatewayConnection, GatewaySocket, IncomingFrame } from './socket'

export type { GatewayConnection, GatewaySocket, IncomingFrame } from './socket'

/** What a connection needs from the gateway around it. */
export interface ConnectionHost {
  readonly limits: ResolvedLimits
  readonly heartbeatMs: number
  readonly heartbeatTimeoutMs: number
  /** How long a command id is remembered; sent in `welcome` so a client knows when a re-sent command could run twice. */
  readonly idempotencyTtlMs?: number
  readonly token: { readonly refreshBeforeMs: number; readonly graceMs: number }
  readonly clock: ServerClock
  readonly broker: Broker
  readonly fanout: Fanout
  readonly commands: CommandRunner
  readonly log: GatewayLogger
  authenticate(token: string | undefined, handshake: HandshakeInfo): Promise<AuthOutcome>
  authorize(principal: Principal, channel: string, action: AuthorizeAction): Promise<boolean>
  /** Counts the principal's connection; false when it has too many. */
  admit(connection: Connection, principal: Principal): boolean
  /** The connection is closed on our side: forget its principal and handshake slot. */
  release(connection: Connection): void
  /** The socket is gone. */
  forget(connection: Connection): void
  drop(cause: DropCause): void
  frameIn(): void
  frameOut(): void
}

export interface Connection extends GatewayConnection {
  readonly principal: Principal | undefined
  readonly pending: boolean
  /** Closes with a code; the gateway stops sending at once. */
  close(code: number, reason: string, cause?: DropCause): void
  /** Drops the connection without a closing handshake (a peer too slow to finish it at shutdown). */
  terminate(): void
  /** The heartbeat sweep: ping when idle, terminate when a ping went unanswered. */
  tick(now: number): void
}

const reply = (id: string, result?: unknown): ServerFrame => (result === undefined ? { type: 'reply', id, ok: true } : { type: 'reply', id, ok: true, result })
const replyError = (id: string, error: ErrorBody): ServerFrame => ({ type: 'reply', id, ok: false, error })

/**
 * One client connection's protocol: `hello` first, then commands, each frame checked, rate
 * limited and handled in order. The phase is data: what is allowed depends only on it.
 */
export function createConnection(host: ConnectionHost, socket: GatewaySocket, handshake: HandshakeInfo, session: string): Connection {
  const { clock, limits, log } = host
  let phase: Phase = { name: 'awaiting_hello' }
  const bucket = createTokenBucket(limits.ratePerSecond, limits.rateBurst, clock.now())
  let strikes = 0
  /** Set when the connection is being closed for its input: nothing more is read. */
  let inputClosed = false
  let queue: Promise<void> = Promise.resolve()
  let queued = 0
  const heartbeat = createHeartbeat({
    clock,
    intervalMs: host.heartbeatMs,
    timeoutMs: host.heartbeatTimeoutMs,
    ping: () => socket.ping(),
    isClosed: () => phase.name === 'closed',
    dead() {
      host.drop('heartbeat_timeout')
      log({ level: 'info', message: 'closing: heartbeat_timeout', data: { session } })
      phase = { name: 'closed' }
      cleanup()
      socket.terminate()
    },
  })
  // Created on the first token that expires: most connections never hold one.
  let lifetime: TokenLifetime | undefined
  const scheduleExpiry = (expiresAt: number | undefined) => {
    if (expiresAt === undefined && lifetime === undefined) return
    lifetime ??= createTokenLifetime(
      clock,
      host.token,
      (at) => send({ type: 'refresh', expiresAt: at }),
      () => close(CloseCode.TokenExpired, 'token expired', 'token_expired'),
    )
    lifetime.schedule(expiresAt)
  }
  // Let go of once cleared, so an open connection does not keep the Timeout and its closure.
  let authTimer: unknown = clock.setTimeout(() => {
    if (phase.name === 'awaiting_hello' || phase.name === 'authenticating') close(CloseCode.AuthTimeout, 'no hello in time', 'auth_timeout')
  }, limits.authTimeoutMs)
  const clearAuthTimer = () => {
    clock.clearTimeout(authTimer)
    authTimer = undefined
  }

  const isOpen = () => phase.name === 'open'

  function sendText(text: string): void {
    if (phase.name === 'closed') return
    // The one backpressure signal: what the socket has not written yet. Past the limit the
    // connection is closed rather than letting it grow (or slowing everyone else down).
    // A single frame bigger than the limit (a large snapshot) still goes out when nothing is queued.
    const backlog = socket.bufferedAmount
    if (backlog > 0 && backlog + text.length > limits.maxBufferedBytes) {
      close(CloseCode.SlowConsumer, 'slow consumer: outgoing buffer full', 'slow_consumer')
      return
    }
    socket.send(text)
    host.frameOut()
  }
  const send = (frame: ServerFrame) => sendText(encodeServerFrame(frame))

  /**
   * Channels with a broker resync waiting in the queue, and how many. Their live events are
   * dropped until the resync starts: they follow a break the client has no base for, and the
   * state frame the resync sends, read after they arrived, already covers them.
   */
  let resyncing: Map<string, number> | undefined
  const resyncDone = (channel: string) => {
    const left = (resyncing?.get(channel) ?? 1) - 1
    if (left > 0) resyncing?.set(channel, left)
    else resyncing?.delete(channel)
  }
  const receiver: FanoutReceiver = {
    deliver: (key, event, text) => {
      if (resyncing !== undefined && resyncing.size > 0 && resyncing.has(event.channel)) return
      subscriptions.live(key, event, text)
    },
    // Through the queue, so a resync never interleaves with a subscribe of the same connection.
    resync: (key, channel, reason) => {
      resyncing ??= new Map()
      resyncing.set(channel, (resyncing.get(channel) ?? 0) + 1)
      const queuedWork = enqueue(() => {
        resyncDone(channel)
        return subscriptions.resync(key, channel, reason)
      })
      // Refused (the queue is full): nothing will send the state, so nothing holds the events back.
      if (!queuedWork) resyncDone(channel)
    },
  }

  const subscriptions: Subscriptions = createSubscriptions({
    broker: host.broker,
    fanout: host.fanout,
    receiver,
    maxChannels: limits.maxChannels,
    authorize: (channel, action) => (phase.name === 'open' ? host.authorize(phase.principal, channel, action) : Promise.resolve(false)),
    isOpen,
    sendEvent: (_event: StoredEvent, text: string) => sendText(text),
    send,
    log,
    session,
    onOverflow: () => close(CloseCode.TryAgainLater, 'overloaded: the replay took too long', 'overloaded'),
    onAuthorizeUnavailable: () => close(CloseCode.TryAgainLater, 'authorization unavailable; try again', 'overloaded'),
  })

  function close(code: number, reason: string, cause?: DropCause): void {
    if (phase.name === 'closed') return
    phase = { name: 'closed' }
    if (cause) {
      host.drop(cause)
      log({ level: cause === 'slow_consumer' || cause === 'bad_frame' ? 'warn' : 'info', message: `closing: ${cause}`, data: { session, code } })
    }
    cleanup()
    try {
      socket.close(code, trimCloseReason(reason))
    } catch {
      socket.terminate()
    }
  }

  function cleanup(): void {
    clearAuthTimer()
    lifetime?.clear()
    subscriptions.clear()
    host.release(connection)
  }

  /**
   * Closes for something the client sent. Once welcomed, frames accepted before the offending
   * one still get their replies: input stops at once, the close waits for the queue.
   */
  function refuse(code: number, reason: string, cause: DropCause): void {
    if (phase.name !== 'open' || queued === 0) return close(code, reason, cause)
    inputClosed = true
    queue = queue.then(() => close(code, reason, cause))
  }

  function receive(frame: IncomingFrame): void {
    if (phase.name === 'closed' || inputClosed) return
    const now = clock.now()
    heartbeat.seen(now)
    host.frameIn()
    if (typeof frame !== 'string') {
      log({ level: 'warn', message: 'bad frame', data: { session, kind: frame.kind, bytes: frame.bytes } })
      return refuse(CloseCode.BadRequest, frame.kind === 'binary' ? 'expected a text frame, got a binary frame' : 'expected UTF-8 text', 'bad_frame')
    }
    const decoded = decodeClientFrame(frame, { maxLength: limits.maxPayload })
    if (!decoded.ok) {
      // Logged by code and path only: the message may quote part of the frame.
      log({ level: 'warn', message: 'bad frame', data: { session, code: decoded.error.code, path: decoded.error.path.join('.') } })
      return refuse(CloseCode.BadRequest, decoded.error.message, 'bad_frame')
    }
    const msg = decoded.frame
    if (!bucket.take(now)) {
      host.drop('rate_limited')
      if (++strikes >= limits.maxRateStrikes) return refuse(CloseCode.RateLimited, 'rate limited', 'rate_limited')
      const error: ErrorBody = { code: ErrorCode.RateLimited, message: `more than ${limits.ratePerSecond} frames per second`, retryable: true }
      const id = 'id' in msg ? msg.id : undefined
      return send(id === undefined ? { type: 'error', error } : replyError(id, error))
    }
    strikes = 0
    if (msg.type === 'ping') return send(msg.t === undefined ? { type: 'pong' } : { type: 'pong', t: msg.t })
    if (msg.type === 'pong') return
    if (msg.type === 'hello') {
      if (phase.name !== 'awaiting_hello') return refuse(CloseCode.RateLimited, 'hello was already sent', 'duplicate_hello')
      if (msg.v !== PROTOCOL_VERSION) return refuse(CloseCode.UnsupportedProtocol, `protocol version ${PROTOCOL_VERSION} expected`, 'unsupported_protocol')
      phase = { name: 'authenticating' }
      enqueue(() => hello(msg))
      return
    }
    if (phase.name !== 'open') return refuse(CloseCode.Unauthorized, `"${msg.type}" before the welcome`, 'unauthorized')
    enqueue(() => handle(msg))
  }

  /** Frames run one after another, so a slow broker read never reorders a connection's commands. False when the queue is full and `work` was refused. */
  function enqueue(work: () => Promise<void>): boolean {
    if (queued >= limits.maxQueuedFrames) {
      send({ type: 'error', error: { code: ErrorCode.Overloaded, message: 'too many frames waiting', retryable: true } })
      return false
    }
    queued++
    queue = queue
      .then(work)
      .catch((error: unknown) => {
        log({ level: 'error', message: 'frame handling failed', data: { session, error: error instanceof Error ? error.name : typeof error } })
        send({ type: 'error', error: { code: ErrorCode.Internal, message: 'the gateway failed to handle a frame', retryable: true } })
      })
      .finally(() => {
        queued--
      })
    return true
  }

  async function hello(msg: ClientFrameOf<'hello'>): Promise<void> {
    const outcome = readCredentials(await host.authenticate(msg.token, handshake))
    // The Node request is for the first authenticate only: kept, it is ~1 KB per connection.
    if (handshake.request) handshake = { headers: handshake.headers, remoteAddress: handshake.remoteAddress, url: handshake.url }
    if (phase.name !== 'authenticating') return
    if (!outcome) return refuse(CloseCode.Unauthorized, 'unauthorized', 'unauthorized')
    if (!host.admit(connection, outcome.principal)) return refuse(CloseCode.TooManyConnections, 'too many connections for this principal', 'too_many_connections')
    clearAuthTimer()
    phase = { name: 'open', principal: outcome.principal, expiresAt: outcome.expiresAt }
    scheduleExpiry(outcome.expiresAt)
    log({ level: 'debug', message: 'welcome', data: { session, principal: outcome.principal.id } })
    const prepared = await subscriptions.prepare(msg.resume ?? [])
    if (!isOpen()) return
    send({
      type: 'welcome',
      v: PROTOCOL_VERSION,
      session,
      heartbeatMs: host.heartbeatMs,
      limits: {
        maxPayload: limits.maxPayload,
        maxChannels: limits.maxChannels,
        maxBufferedBytes: limits.maxBufferedBytes,
        ratePerSecond: limits.ratePerSecond,
        rateBurst: limits.rateBurst,
        ...(host.idempotencyTtlMs === undefined ? {} : { idempotencyTtlMs: host.idempotencyTtlMs }),
      },
      ...(msg.resume ? { subscriptions: prepared.results } : {}),
    })
    prepared.commit()
  }

  async function handle(msg: Exclude<ClientFrame, { type: 'hello' | 'ping' | 'pong' }>): Promise<void> {
    if (phase.name !== 'open') return
    const principal = phase.principal
    switch (msg.type) {
      case 'subscribe': {
        const prepared = await subscriptions.prepare(msg.channels)
        if (!isOpen()) return
        send(reply(msg.id, prepared.results))
        prepared.commit()
        return
      }
      case 'unsubscribe':
        return send(reply(msg.id, { channels: subscriptions.remove(msg.channels) }))
      case 'rejoin': {
        const item: SubscribeItem = { channel: `request:${msg.requestId}` }
        const prepared = await subscriptions.prepare([item], { requestId: msg.requestId })
        if (!isOpen()) return
        const result = prepared.results[0] as SubscribeResult
        if (!result.ok) return send(replyError(msg.id, result.error))
        // State first, then the reply: when the client's rejoin() resolves, its store already holds the request.
        const position = prepared.commit()[0]
        return send(reply(msg.id, { channel: result.channel, ...position }))
      }
      case 'auth':
        return reauthenticate(msg)
      case 'start':
      case 'cancel':
      case 'feedback':
      case 'ack':
      case 'command': {
        const text = await host.commands.run(msg, principal, session)
        if (msg.type === 'ack' && msg.id === undefined) return
        if (isOpen()) sendText(text)
        return
      }
    }
  }

  async function reauthenticate(msg: ClientFrameOf<'auth'>): Promise<void> {
    const outcome = readCredentials(await host.authenticate(msg.token, handshake))
    if (phase.name !== 'open') return
    if (!outcome) {
      log({ level: 'info', message: 'token refresh refused', data: { session, principal: phase.principal.id } })
      return send(replyError(msg.id, { code: ErrorCode.Unauthorized, message: 'the token was refused', retryable: false }))
    }
    if (outcome.principal.id !== phase.principal.id) {
      return send(replyError(msg.id, { code: ErrorCode.Forbidden, message: 'the token belongs to another principal', retryable: false }))
    }
    phase = { name: 'open', principal: outcome.principal, expiresAt: outcome.expiresAt }
    scheduleExpiry(outcome.expiresAt)
    subscriptions.reauthorized()
    send(reply(msg.id, outcome.expiresAt === undefined ? undefined : { expiresAt: outcome.expiresAt }))
  }

  const connection: Connection = Object.assign(new PhaseView(() => phase), {
    session,
    receive(frame: IncomingFrame) {
      try {
        receive(frame)
      } catch (error) {
        // Nothing a client sends may take the gateway down; this is a bug, reported and contained.
        log({ level: 'error', message: 'receive failed', data: { session, error: error instanceof Error ? error.name : typeof error } })
        close(CloseCode.ServerError, 'internal error')
      }
    },
    pong() {
      heartbeat.seen(clock.now())
    },
    closed() {
      if (phase.name !== 'closed') {
        phase = { name: 'closed' }
        cleanup()
      }
      host.forget(connection)
    },
    close,
    terminate() {
      if (phase.name !== 'closed') {
        phase = { name: 'closed' }
        cleanup()
      }
      socket.terminate()
      host.forget(connection)
    },
    tick(now: number) {
      if (phase.name !== 'closed') heartbeat.tick(now)
    },
  })
  return connection
}
