import { CloseCode, ErrorCode, PROTOCOL_VERSION, decodeClientFrame, encodeServerFrame, trimCloseReason } from 'agentwire/protocol'
import type { ClientFrame, ClientFrameOf, ErrorBody, ServerFrame, SubscribeItem, SubscribeResult } from 'agentwire/protocol'
import type { StoredEvent } from './broker'
import type { Connection, ConnectionHost } from './connection-host'
import type { AuthorizeAction, HandshakeInfo, Principal } from './options'
import type { DropCause } from './stats'
import { TokenBucket } from './token-bucket'
import { ConnectionSubscriptions, type SubscriptionsOwner } from './subscriptions'
import type { Phase } from './phase'
import { createTokenLifetime, readCredentials, type TokenLifetime } from './credentials'
import { Heartbeat, type HeartbeatPeer } from './heartbeat'
import type { GatewaySocket, IncomingFrame } from './socket'

export type { GatewayConnection, GatewaySocket, IncomingFrame } from './socket'
export type { Connection, ConnectionHost } from './connection-host'

const reply = (id: string, result?: unknown): ServerFrame => (result === undefined ? { type: 'reply', id, ok: true } : { type: 'reply', id, ok: true, result })
const replyError = (id: string, error: ErrorBody): ServerFrame => ({ type: 'reply', id, ok: false, error })
const CLOSED: Phase = { name: 'closed' }
const AWAITING_HELLO: Phase = { name: 'awaiting_hello' }
const AUTHENTICATING: Phase = { name: 'authenticating' }

/**
 * One client connection's protocol: `hello` first, then commands, each frame checked, rate
 * limited and handled in order. The phase is data: what is allowed depends only on it.
 *
 * A class, so that its methods are shared on the prototype: what each connection holds is its
 * fields (and one object each for its subscriptions, heartbeat and rate bucket), not a closure
 * per method. It is its own fan-out receiver, heartbeat peer and subscriptions' owner.
 */
export class ServerConnection implements Connection, SubscriptionsOwner, HeartbeatPeer {
  private phase: Phase = AWAITING_HELLO
  private readonly bucket: TokenBucket
  private strikes = 0
  /** Set when the connection is being closed for its input: nothing more is read. */
  private inputClosed = false
  /** The frames in hand, one after another; let go of when none is left. */
  private queue: Promise<void> | undefined = undefined
  private queued = 0
  private readonly heartbeat: Heartbeat
  /** Created on the first token that expires: most connections never hold one. */
  private lifetime: TokenLifetime | undefined = undefined
  /** Let go of once cleared, so an open connection does not keep the Timeout and its closure. */
  private authTimer: unknown
  /**
   * Channels with a broker resync waiting in the queue, and how many. Their live events are
   * dropped until the resync starts: they follow a break the client has no base for, and the
   * state frame the resync sends, read after they arrived, already covers them.
   */
  private resyncing: Map<string, number> | undefined = undefined
  private readonly subscriptions: ConnectionSubscriptions

  constructor(
    readonly host: ConnectionHost,
    private readonly socket: GatewaySocket,
    private handshake: HandshakeInfo,
    readonly session: string,
  ) {
    const now = host.clock.now()
    this.bucket = new TokenBucket(host.limits.rateBurst, now)
    this.heartbeat = new Heartbeat(now)
    this.authTimer = host.clock.setTimeout(() => this.authTimeout(), host.limits.authTimeoutMs)
    this.subscriptions = new ConnectionSubscriptions(this)
  }

  get principal(): Principal | undefined {
    const phase = this.phase
    return phase.name === 'open' ? phase.principal : undefined
  }

  get pending(): boolean {
    const name = this.phase.name
    return name === 'awaiting_hello' || name === 'authenticating'
  }

  isOpen(): boolean {
    return this.phase.name === 'open'
  }

  isClosed(): boolean {
    return this.phase.name === 'closed'
  }

  private authTimeout(): void {
    if (this.pending) this.close(CloseCode.AuthTimeout, 'no hello in time', 'auth_timeout')
  }

  private clearAuthTimer(): void {
    this.host.clock.clearTimeout(this.authTimer)
    this.authTimer = undefined
  }

  private scheduleExpiry(expiresAt: number | undefined): void {
    if (expiresAt === undefined && this.lifetime === undefined) return
    this.lifetime ??= createTokenLifetime(
      this.host.clock,
      this.host.token,
      (at) => this.send({ type: 'refresh', expiresAt: at }),
      () => this.close(CloseCode.TokenExpired, 'token expired', 'token_expired'),
    )
    this.lifetime.schedule(expiresAt)
  }

  sendText(text: string): void {
    if (this.phase.name === 'closed') return
    // The one backpressure signal: what the socket has not written yet. Past the limit the
    // connection is closed rather than letting it grow (or slowing everyone else down).
    // A single frame bigger than the limit (a large snapshot) still goes out when nothing is queued.
    const backlog = this.socket.bufferedAmount
    if (backlog > 0 && backlog + text.length > this.host.limits.maxBufferedBytes) {
      this.close(CloseCode.SlowConsumer, 'slow consumer: outgoing buffer full', 'slow_consumer')
      return
    }
    this.socket.send(text)
    this.host.frameOut()
  }

  send(frame: ServerFrame): void {
    this.sendText(encodeServerFrame(frame))
  }


  deliver(key: string, event: StoredEvent, text: string): void {
    const resyncing = this.resyncing
    if (resyncing !== undefined && resyncing.size > 0 && resyncing.has(event.channel)) return
    this.subscriptions.live(key, event, text)
  }

  // Through the queue, so a resync never interleaves with a subscribe of the same connection.
  resync(key: string, channel: string, reason: 'epoch' | 'gap'): void {
    const resyncing = (this.resyncing ??= new Map())
    resyncing.set(channel, (resyncing.get(channel) ?? 0) + 1)
    const queuedWork = this.enqueue(() => {
      this.resyncDone(channel)
      return this.subscriptions.resync(key, channel, reason)
    })
    // Refused (the queue is full): nothing will send the state, so nothing holds the events back.
    if (!queuedWork) this.resyncDone(channel)
  }

  private resyncDone(channel: string): void {
    const resyncing = this.resyncing
    const left = (resyncing?.get(channel) ?? 1) - 1
    if (left > 0) resyncing?.set(channel, left)
    else resyncing?.delete(channel)
  }


  authorizeChannel(channel: string, action: AuthorizeAction): Promise<boolean> {
    const phase = this.phase
    return phase.name === 'open' ? this.host.authorize(phase.principal, channel, action) : Promise.resolve(false)
  }

  overflow(): void {
    this.close(CloseCode.TryAgainLater, 'overloaded: the replay took too long', 'overloaded')
  }

  authorizeUnavailable(): void {
    this.close(CloseCode.TryAgainLater, 'authorization unavailable; try again', 'overloaded')
  }


  sendPing(): void {
    this.socket.ping()
  }

  dead(): void {
    this.host.drop('heartbeat_timeout')
    this.host.log({ level: 'info', message: 'closing: heartbeat_timeout', data: { session: this.session } })
    this.dispose()
    this.socket.terminate()
  }


  close(code: number, reason: string, cause?: DropCause): void {
    if (this.phase.name === 'closed') return
    this.phase = CLOSED
    if (cause) {
      this.host.drop(cause)
      this.host.log({ level: cause === 'slow_consumer' || cause === 'bad_frame' ? 'warn' : 'info', message: `closing: ${cause}`, data: { session: this.session, code } })
    }
    this.cleanup()
    try {
      this.socket.close(code, trimCloseReason(reason))
    } catch {
      this.socket.terminate()
    }
  }

  /** Closed without a closing handshake of ours (the socket is gone, or is being cut off). */
  private dispose(): void {
    this.phase = CLOSED
    this.cleanup()
  }

  private cleanup(): void {
    this.clearAuthTimer()
    this.lifetime?.clear()
    this.subscriptions.clear()
    this.host.release(this)
  }

  /**
   * Closes for something the client sent. Once welcomed, frames accepted before the offending
   * one still get their replies: input stops at once, the close waits for the queue.
   */
  private refuse(code: number, reason: string, cause: DropCause): void {
    if (this.phase.name !== 'open' || this.queued === 0) return this.close(code, reason, cause)
    this.inputClosed = true
    this.queue = (this.queue ?? Promise.resolve()).then(() => this.close(code, reason, cause))
  }


  receive(frame: IncomingFrame): void {
    try {
      this.read(frame)
    } catch (error) {
      // Nothing a client sends may take the gateway down; this is a bug, reported and contained.
      this.host.log({ level: 'error', message: 'receive failed', data: { session: this.session, error: error instanceof Error ? error.name : typeof error } })
      this.close(CloseCode.ServerError, 'internal error')
    }
  }

  private read(frame: IncomingFrame): void {
    if (this.phase.name === 'closed' || this.inputClosed) return
    const { host, session } = this
    const { limits, log } = host
    const now = host.clock.now()
    this.heartbeat.seen(now)
    host.frameIn()
    if (typeof frame !== 'string') {
      log({ level: 'warn', message: 'bad frame', data: { session, kind: frame.kind, bytes: frame.bytes } })
      return this.refuse(CloseCode.BadRequest, frame.kind === 'binary' ? 'expected a text frame, got a binary frame' : 'expected UTF-8 text', 'bad_frame')
    }
    const decoded = decodeClientFrame(frame, { maxLength: limits.maxPayload })
    if (!decoded.ok) {
      // Logged by code and path only: the message may quote part of the frame.
      log({ level: 'warn', message: 'bad frame', data: { session, code: decoded.error.code, path: decoded.error.path.join('.') } })
      return this.refuse(CloseCode.BadRequest, decoded.error.message, 'bad_frame')
    }
    const msg = decoded.frame
    if (!this.bucket.take(now, limits.ratePerSecond, limits.rateBurst)) {
      host.drop('rate_limited')
      if (++this.strikes >= limits.maxRateStrikes) return this.refuse(CloseCode.RateLimited, 'rate limited', 'rate_limited')
      const error: ErrorBody = { code: ErrorCode.RateLimited, message: `more than ${limits.ratePerSecond} frames per second`, retryable: true }
      const id = 'id' in msg ? msg.id : undefined
      return this.send(id === undefined ? { type: 'error', error } : replyError(id, error))
    }
    this.strikes = 0
    if (msg.type === 'ping') return this.send(msg.t === undefined ? { type: 'pong' } : { type: 'pong', t: msg.t })
    if (msg.type === 'pong') return
    if (msg.type === 'hello') {
      if (this.phase.name !== 'awaiting_hello') return this.refuse(CloseCode.RateLimited, 'hello was already sent', 'duplicate_hello')
      if (msg.v !== PROTOCOL_VERSION) return this.refuse(CloseCode.UnsupportedProtocol, `protocol version ${PROTOCOL_VERSION} expected`, 'unsupported_protocol')
      this.phase = AUTHENTICATING
      this.enqueue(() => this.hello(msg))
      return
    }
    if (this.phase.name !== 'open') return this.refuse(CloseCode.Unauthorized, `"${msg.type}" before the welcome`, 'unauthorized')
    this.enqueue(() => this.handle(msg))
  }

  /** Frames run one after another, so a slow broker read never reorders a connection's commands. False when the queue is full and `work` was refused. */
  private enqueue(work: () => Promise<void>): boolean {
    if (this.queued >= this.host.limits.maxQueuedFrames) {
      this.send({ type: 'error', error: { code: ErrorCode.Overloaded, message: 'too many frames waiting', retryable: true } })
      return false
    }
    this.queued++
    const tail: Promise<void> = (this.queue ?? Promise.resolve())
      .then(work)
      .catch((error: unknown) => {
        this.host.log({ level: 'error', message: 'frame handling failed', data: { session: this.session, error: error instanceof Error ? error.name : typeof error } })
        this.send({ type: 'error', error: { code: ErrorCode.Internal, message: 'the gateway failed to handle a frame', retryable: true } })
      })
      .finally(() => {
        // The last of the queue: an idle connection keeps no settled promise.
        if (--this.queued === 0 && this.queue === tail) this.queue = undefined
      })
    this.queue = tail
    return true
  }

  private async hello(msg: ClientFrameOf<'hello'>): Promise<void> {
    const { host, session } = this
    const outcome = readCredentials(await host.authenticate(msg.token, this.handshake))
    // The Node request is for the first authenticate only: kept, it is ~1 KB per connection.
    const handshake = this.handshake
    if (handshake.request) this.handshake = { headers: handshake.headers, remoteAddress: handshake.remoteAddress, url: handshake.url }
    if (this.phase.name !== 'authenticating') return
    if (!outcome) return this.refuse(CloseCode.Unauthorized, 'unauthorized', 'unauthorized')
    if (!host.admit(this, outcome.principal)) return this.refuse(CloseCode.TooManyConnections, 'too many connections for this principal', 'too_many_connections')
    this.clearAuthTimer()
    this.phase = { name: 'open', principal: outcome.principal, expiresAt: outcome.expiresAt }
    this.scheduleExpiry(outcome.expiresAt)
    host.log({ level: 'debug', message: 'welcome', data: { session, principal: outcome.principal.id } })
    const prepared = await this.subscriptions.prepare(msg.resume ?? [])
    if (!this.isOpen()) return
    const limits = host.limits
    this.send({
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

  private async handle(msg: Exclude<ClientFrame, { type: 'hello' | 'ping' | 'pong' }>): Promise<void> {
    const phase = this.phase
    if (phase.name !== 'open') return
    const principal = phase.principal
    const subscriptions = this.subscriptions
    switch (msg.type) {
      case 'subscribe': {
        const prepared = await subscriptions.prepare(msg.channels)
        if (!this.isOpen()) return
        this.send(reply(msg.id, prepared.results))
        prepared.commit()
        return
      }
      case 'unsubscribe':
        return this.send(reply(msg.id, { channels: subscriptions.remove(msg.channels) }))
      case 'rejoin': {
        const item: SubscribeItem = { channel: `request:${msg.requestId}` }
        const prepared = await subscriptions.prepare([item], { requestId: msg.requestId })
        if (!this.isOpen()) return
        const result = prepared.results[0] as SubscribeResult
        if (!result.ok) return this.send(replyError(msg.id, result.error))
        // State first, then the reply: when the client's rejoin() resolves, its store already holds the request.
        const position = prepared.commit()[0]
        return this.send(reply(msg.id, { channel: result.channel, ...position }))
      }
      case 'auth':
        return this.reauthenticate(msg)
      case 'start':
      case 'cancel':
      case 'feedback':
      case 'ack':
      case 'command': {
        const text = await this.host.commands.run(msg, principal, this.session)
        if (msg.type === 'ack' && msg.id === undefined) return
        if (this.isOpen()) this.sendText(text)
        return
      }
    }
  }

  private async reauthenticate(msg: ClientFrameOf<'auth'>): Promise<void> {
    const outcome = readCredentials(await this.host.authenticate(msg.token, this.handshake))
    const phase = this.phase
    if (phase.name !== 'open') return
    if (!outcome) {
      this.host.log({ level: 'info', message: 'token refresh refused', data: { session: this.session, principal: phase.principal.id } })
      return this.send(replyError(msg.id, { code: ErrorCode.Unauthorized, message: 'the token was refused', retryable: false }))
    }
    if (outcome.principal.id !== phase.principal.id) {
      return this.send(replyError(msg.id, { code: ErrorCode.Forbidden, message: 'the token belongs to another principal', retryable: false }))
    }
    this.phase = { name: 'open', principal: outcome.principal, expiresAt: outcome.expiresAt }
    this.scheduleExpiry(outcome.expiresAt)
    this.subscriptions.reauthorized()
    this.send(reply(msg.id, outcome.expiresAt === undefined ? undefined : { expiresAt: outcome.expiresAt }))
  }


  pong(): void {
    this.heartbeat.seen(this.host.clock.now())
  }

  closed(): void {
    if (this.phase.name !== 'closed') this.dispose()
    this.host.forget(this)
  }

  terminate(): void {
    if (this.phase.name !== 'closed') this.dispose()
    this.socket.terminate()
    this.host.forget(this)
  }

  tick(now: number): void {
    if (this.phase.name !== 'closed') this.heartbeat.tick(now, this.host, this)
  }
}
