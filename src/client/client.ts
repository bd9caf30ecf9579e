import {
  AgentwireError,
  ClientClosedError,
  CloseCode,
  framesOf,
  ErrorCode,
  isEventType,
  MAX_SUBSCRIBE_BATCH,
  parseState,
  PROTOCOL_VERSION,
  ProtocolError,
  SubscribeResultSchema,
  trimCloseReason,
  type AgentEvent,
  type AgentwireState,
  type ClientFrame,
  type DecodeResult,
  type EventMessage,
  type RequestView,
  type ServerMessage,
  type StateMessage,
  type SubscribeItem,
  type SubscribeResult,
} from 'agentwire/protocol'
import { backoffDelay, backoffPolicy, reconnectSchedule } from './backoff'
import { realClock, timerSlot } from './clock'
import { resolveCodec } from './dialect'
import { createEmitter } from './emitter'
import { defaultEnvironment, isOffline, watchEnvironment } from './environment'
import { checkLiveness, heartbeatPolicy, livenessDeadline } from './heartbeat'
import { createId } from './ids'
import { hasSocket, initialConnectionState, transition, type ConnectionState, type Effect, type MachineContext, type MachineEvent } from './machine'
import { createOutbox } from './outbox'
import { createPositions } from './positions'
import { createRecovery, defaultStorageKey, type SavedChannel } from './recovery'
import { errorFromBody, type CommandFrame } from './request'
import { outcomeOfEvent, outcomeOfView, requestIdOf, trackRequest, type TrackedRequest } from './run'
import { createStore } from './store'
import { canonicalChannel, createSubscriptionRegistry, type WireSubscription } from './subscription'
import { webSocketTransport } from './websocket-transport'
import type {
  Client,
  ClientOptions,
  ClientStats,
  ConnectionStatus,
  EventContext,
  ResyncInfo,
  Run,
  StartInput,
  Subscription,
  TransportConnection,
} from './types'

const CLIENT_EVENTS = new Set(['state', 'error', 'resync', 'event'])
const RESYNC_REASONS = new Set(['window', 'epoch', 'gap'])

/**
 * The client: the shell around the connection machine. It owns the socket, the timers and the
 * listeners, runs the machine's effects, and routes frames: events through positions (dedupe,
 * gap detection) into the store and then to handlers, snapshots into the store, replies to the
 * commands waiting for them. Every frame handler catches: nothing thrown by a codec, the store
 * or a user's handler escapes into the transport.
 */
export function createClient(options: ClientOptions): Client {
  if (options === null || typeof options !== 'object') throw new TypeError("agentwire: createClient expects options, e.g. createClient({ url: 'ws://localhost:8787/ws' })")
  if (typeof options.url !== 'string' || options.url.length === 0) {
    throw new TypeError("agentwire: createClient needs options.url, the gateway's WebSocket URL, e.g. 'ws://localhost:8787/ws'")
  }
  const codec = resolveCodec(options.dialect)
  const caps = codec.capabilities
  /** Whether the backend answers commands and subscribes by id; without replies, sent is done. */
  const replies = caps.replies ?? caps.handshake
  const transport = options.transport ?? webSocketTransport(options.WebSocket)
  const clock = options.clock ?? realClock
  const environment = options.environment === undefined ? defaultEnvironment() : options.environment
  const policy = backoffPolicy(options.reconnect)
  const heartbeat = heartbeatPolicy(options.heartbeat)
  const connectTimeoutMs = positive(options.connectTimeoutMs, 10_000)
  const requestTimeoutMs = positive(options.requestTimeoutMs, 10_000)
  const maxProtocolErrors = Math.max(1, Math.floor(positive(options.maxProtocolErrors, 3)))
  const debug = options.debug ?? (() => {})
  const tokenRefreshable = typeof options.token === 'function'

  const stats: ClientStats = { framesIn: 0, framesOut: 0, events: 0, duplicates: 0, decodeErrors: 0, unknownFrames: 0, reconnects: 0 }
  const emitter = createEmitter((error, type) => {
    if (type === 'error') {
      debug('an error handler threw', { message: messageOf(error) })
      return
    }
    report(new AgentwireError(ErrorCode.Internal, `a "${type}" handler threw: ${messageOf(error)}`, { cause: error, retryable: false }))
  })
  const store = createStore({
    onError: (error) => report(new AgentwireError(ErrorCode.Internal, `a store listener threw: ${messageOf(error)}`, { cause: error, retryable: false })),
  })
  const positions = createPositions()
  const outbox = createOutbox({ clock, capacity: Math.max(0, Math.floor(options.outboxSize ?? 100)), timeoutMs: requestTimeoutMs })
  const subscriptions = createSubscriptionRegistry(onLastRelease)
  const requests = new Map<string, TrackedRequest>()
  /**
   * `subscribe` frames awaiting their reply: frame id → channels, the connection they went on,
   * and the deadline of the reply. A subscribe that is never answered (the gateway shed the
   * frame) would otherwise leave its channels waiting for good: a gap's re-subscribe holds off
   * every later re-subscribe until its answer, so the channel would stall without a word.
   */
  const subscribeFrames = new Map<string, { channels: string[]; generation: number; deadline: ReturnType<typeof timerSlot> }>()
  /** `unsubscribe` frames awaiting their reply, so the reply is not mistaken for an unknown one. */
  const unsubscribeFrames = new Set<string>()
  /** Channels released while the hello that subscribed them awaits its welcome. */
  const pendingUnsubscribes = new Set<string>()
  /** `rejoin()` calls waiting for their `state` frame, per request id. */
  const rejoinWaiters = new Map<string, Set<{ resolve: (view: RequestView | undefined) => void; reject: (error: AgentwireError) => void }>>()
  const recovery = options.storage
    ? createRecovery({
        storage: options.storage,
        key: options.storageKey ?? defaultStorageKey(options.url, options.instance ?? 'default'),
        user: options.user,
        maxLength: positive(options.maxStorageLength, 1_048_576),
      })
    : undefined
  /** Another live client held the storage key at a save: reported once; this one saves nothing while it does. */
  let keyConflictReported = false

  const retryTimer = timerSlot(clock)
  const connectTimer = timerSlot(clock)
  const heartbeatTimer = timerSlot(clock)
  /** Timers of rejoin answers and subscription retries, cleared on close. */
  const extraTimers = new Set<ReturnType<typeof timerSlot>>()

  let machine: ConnectionState = initialConnectionState
  let connection: TransportConnection | undefined
  /** The token sent on each connection, to tell whether a refused token came back unchanged. */
  let currentToken: string | undefined
  let refusedToken: string | undefined
  let lastReceived = 0
  let pingSentAt: number | undefined
  let protocolErrorRun = 0
  let everOpen = false
  /** Clock time the current connection became ready (resumed events older than it are replays). */
  let readyAt: number | undefined
  let stopWatching: (() => void) | undefined

  // ── the machine ─────────────────────────────────────────────────────────────────────

  const queue: MachineEvent[] = []
  let dispatching = false
  function dispatch(event: MachineEvent): void {
    queue.push(event)
    if (dispatching) return // effects that dispatch are run after the current transition, in order
    dispatching = true
    try {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const { state, effects } = transition(machine, next, context())
        machine = state
        for (const effect of effects) {
          try {
            run(effect)
          } catch (error) {
            report(new AgentwireError(ErrorCode.Internal, `client effect "${effect.type}" failed: ${messageOf(error)}`, { cause: error }))
          }
        }
      }
    } finally {
      dispatching = false
    }
  }

  // One wave's retries keep a phase (or the gateway's slot) so a fleet returns evenly (S2).
  const reconnectDelays = reconnectSchedule(policy)
  function context(): MachineContext {
    return {
      now: clock.now(),
      handshake: caps.handshake,
      maxRetries: policy.maxRetries,
      stableAfterMs: policy.stableAfterMs,
      tokenRefreshable,
      delay: (attempt, hint) => reconnectDelays.delay(attempt, hint),
    }
  }

  function run(effect: Effect): void {
    switch (effect.type) {
      case 'openSocket':
        return openSocket(effect.generation)
      case 'closeSocket': {
        const c = connection
        connection = undefined
        c?.close(effect.code, trimCloseReason(effect.reason))
        return
      }
      case 'sendHello':
        return sendHello()
      case 'armConnectTimeout': {
        const generation = machine.generation
        connectTimer.set(connectTimeoutMs, () => dispatch({ type: 'connectTimeout', generation }))
        return
      }
      case 'scheduleRetry':
        debug('reconnecting', { delayMs: effect.delayMs })
        retryTimer.set(effect.delayMs, () => dispatch({ type: 'retryDue' }))
        return
      case 'cancelTimers':
        retryTimer.clear()
        connectTimer.clear()
        return
      case 'startHeartbeat':
        lastReceived = clock.now()
        pingSentAt = undefined
        if (caps.heartbeat !== 'none') heartbeatTimer.set(heartbeat.intervalMs, tick)
        return
      case 'stopHeartbeat':
        heartbeatTimer.clear()
        pingSentAt = undefined
        return
      case 'probe':
        return probe()
      case 'ready':
        return ready(effect.generation)
      case 'lost':
        return lost()
      case 'rejectPending':
        return rejectPending(new AgentwireError(effect.code === 'unauthorized' ? ErrorCode.Unauthorized : ErrorCode.Closed, effect.message))
      case 'terminate':
        return terminate()
      case 'emitState':
        debug('state', { previous: effect.change.previous, current: effect.change.current })
        emitter.emit('state', effect.change)
        return
    }
  }

  // ── connecting ──────────────────────────────────────────────────────────────────────

  function isConnecting(generation: number): boolean {
    return machine.status === 'connecting' && machine.generation === generation
  }

  function openSocket(generation: number): void {
    connection = undefined
    if (everOpen || generation > 1) stats.reconnects++
    const token = options.token
    if (typeof token !== 'function') return attach(generation, token)
    let pending: string | Promise<string>
    try {
      pending = token()
    } catch (error) {
      return tokenFailed(generation, error)
    }
    Promise.resolve(pending).then(
      (value) => {
        if (!isConnecting(generation)) return
        if (typeof value !== 'string') return tokenFailed(generation, new TypeError(`the token function returned ${typeof value}, expected a string`))
        attach(generation, value)
      },
      (error: unknown) => {
        if (isConnecting(generation)) tokenFailed(generation, error)
      },
    )
  }

  function tokenFailed(generation: number, error: unknown): void {
    report(new AgentwireError(ErrorCode.Unauthorized, `the token function failed: ${messageOf(error)}`, { cause: error, retryable: true }))
    dispatch({ type: 'tokenFailed', generation, reason: 'token function failed' })
  }

  function attach(generation: number, token: string | undefined): void {
    if (machine.status === 'connecting' && machine.authRetry && refusedToken !== undefined && token === refusedToken) {
      return dispatch({ type: 'tokenUnchanged', generation })
    }
    currentToken = token
    try {
      connection = transport.connect(options.url, {
        onOpen: () => dispatch({ type: 'socketOpen', generation }),
        onFrame: (frame) => receive(generation, frame),
        onClose: (code, reason) => {
          if (machine.generation !== generation) return
          if (code === CloseCode.Unauthorized) refusedToken = currentToken
          debug('socket closed', { code, reason })
          dispatch({ type: 'socketClosed', generation, code, reason })
        },
        onError: (error) => debug('socket error', { message: messageOf(error) }),
      })
    } catch (error) {
      report(new AgentwireError(ErrorCode.Internal, `could not open a connection to ${redactUrl(options.url)}: ${messageOf(error)}`, { cause: error, retryable: true }))
      dispatch({ type: 'socketClosed', generation, code: CloseCode.Abnormal, reason: 'transport failed to connect' })
    }
  }

  function sendHello(): void {
    const generation = machine.generation
    const items: SubscribeItem[] = []
    if (caps.serverSubscribe) {
      for (const wire of wanted()) {
        if (items.length >= MAX_SUBSCRIBE_BATCH) break
        items.push(itemFor(wire))
        wire.sentOn = generation
        if (wire.status !== 'subscribed') wire.status = 'subscribing'
      }
    }
    const hello: ClientFrame = {
      type: 'hello',
      v: PROTOCOL_VERSION,
      client: 'agentwire',
      ...(currentToken === undefined ? {} : { token: currentToken }),
      ...(items.length > 0 ? { resume: items } : {}),
    }
    send(hello)
  }

  /** Subscriptions to (re)establish: all but those the server refused for good. */
  function wanted(): WireSubscription[] {
    return subscriptions.all().filter((wire) => wire.status !== 'failed' || wire.error?.retryable === true)
  }

  function itemFor(wire: WireSubscription): SubscribeItem {
    const resume = caps.resume ? positions.resumeFor(wire.channel) : []
    return resume.length > 0 ? { channel: wire.channel, resume } : { channel: wire.channel }
  }

  function ready(generation: number): void {
    const reconnected = everOpen
    everOpen = true
    readyAt = reconnected ? clock.now() : undefined
    protocolErrorRun = 0
    refusedToken = undefined
    if (pendingUnsubscribes.size > 0) {
      const channels = [...pendingUnsubscribes].filter((channel) => subscriptions.get(channel) === undefined)
      pendingUnsubscribes.clear()
      sendUnsubscribe(channels)
    }
    if (caps.serverSubscribe) {
      sendSubscribe(wanted().filter((wire) => wire.sentOn !== generation))
    } else {
      for (const wire of subscriptions.all()) markSubscribed(wire)
    }
    if (reconnected && caps.rejoin && !caps.resume) rejoinFollowed()
    if (reconnected && !caps.positions) {
      for (const wire of subscriptions.all()) emitter.emit('resync', { channel: wire.channel, reason: 'reconnect' } satisfies ResyncInfo)
    }
    flush()
  }

  /**
   * A backend that answers `rejoin` with a request's state but replays nothing (the progress
   * seed): after a reconnect, ask for the state of every request followed, so what happened
   * while the link was down reaches the store without the app having to ask.
   */
  function rejoinFollowed(): void {
    // A `rejoin()` the app made while disconnected goes out with the outbox: not asked twice.
    const queued = new Set<string>()
    for (const request of outbox.unsentOn(machine.generation)) if (request.frame.type === 'rejoin') queued.add(request.frame.requestId)
    for (const wire of subscriptions.all()) {
      if (wire.pattern || !wire.channel.startsWith('request:')) continue
      const requestId = wire.channel.slice('request:'.length)
      if (queued.has(requestId)) continue
      command({ type: 'rejoin', id: createId(), requestId }).catch((error: unknown) => report(asError(error)))
    }
  }

  function lost(): void {
    forgetSubscribeFrames()
    unsubscribeFrames.clear()
    positions.connectionLost()
    outbox.connectionLost()
    for (const wire of subscriptions.all()) if (wire.status === 'subscribed') wire.status = 'subscribing'
  }

  function rejectPending(error: AgentwireError): void {
    outbox.rejectAll(error)
    for (const waiters of rejoinWaiters.values()) for (const w of waiters) w.reject(error)
    rejoinWaiters.clear()
  }

  function terminate(): void {
    stopWatching?.()
    stopWatching = undefined
    recovery?.release()
    keyConflictReported = false
    retryTimer.clear()
    connectTimer.clear()
    heartbeatTimer.clear()
    for (const t of extraTimers) t.clear()
    extraTimers.clear()
    const closed = new ClientClosedError()
    rejectPending(closed)
    for (const tracked of [...requests.values()]) tracked.fail(closed)
    forgetSubscribeFrames()
    unsubscribeFrames.clear()
    pendingUnsubscribes.clear()
    for (const wire of subscriptions.all()) {
      wire.status = 'unsubscribed'
      wire.sentOn = 0
    }
  }

  // ── liveness ────────────────────────────────────────────────────────────────────────

  function tick(confirming = false): void {
    if (machine.status !== 'open' || caps.heartbeat === 'none') return
    const now = clock.now()
    const verdict = checkLiveness(now, { lastReceived, pingSentAt }, heartbeat)
    if (verdict.verdict === 'dead') {
      // Confirmed on the next turn of the event loop, once the input waiting now has been read:
      // after this process itself stalled past the deadline (a GC pause, a busy page, a starved
      // CPU), timers run before I/O, and a reply sitting in the socket would be taken for silence.
      if (!confirming) return heartbeatTimer.set(0, () => tick(true))
      debug('link dead', { silentMs: verdict.silentMs })
      return dispatch({ type: 'dead', generation: machine.generation })
    }
    if (verdict.verdict === 'ping') {
      pingSentAt = now
      send({ type: 'ping', t: now })
    }
    heartbeatTimer.set(verdict.nextCheckAt - now, tick)
  }

  /** Checks the deadline before a send: a link that died while timers slept is found here. */
  function alive(): boolean {
    if (machine.status !== 'open') return false
    if (caps.heartbeat === 'none') return true
    const verdict = checkLiveness(clock.now(), { lastReceived, pingSentAt }, heartbeat)
    if (verdict.verdict !== 'dead') return true
    debug('link dead (found on send)', { silentMs: verdict.silentMs })
    dispatch({ type: 'dead', generation: machine.generation })
    return false
  }

  function probe(): void {
    if (machine.status !== 'open' || caps.heartbeat === 'none') return
    if (!alive()) return
    const now = clock.now()
    if (pingSentAt === undefined) pingSentAt = now
    send({ type: 'ping', t: now })
    heartbeatTimer.set(livenessDeadline({ lastReceived, pingSentAt }, heartbeat) - now, tick)
  }

  // ── sending ─────────────────────────────────────────────────────────────────────────

  /** Encodes and sends one frame on the current connection; false when it could not go out. */
  function send(frame: ClientFrame): boolean {
    const c = connection
    if (!c) return false
    const encoded = codec.encode(frame)
    if (!encoded.ok) {
      report(encoded.error)
      return false
    }
    try {
      for (const wire of framesOf(encoded)) c.send(wire)
    } catch (error) {
      debug('send failed', { type: frame.type, message: messageOf(error) })
      return false
    }
    stats.framesOut++
    return true
  }

  function sendSubscribe(wires: WireSubscription[]): void {
    if (wires.length === 0 || machine.status !== 'open') return
    for (let i = 0; i < wires.length; i += MAX_SUBSCRIBE_BATCH) {
      const batch = wires.slice(i, i + MAX_SUBSCRIBE_BATCH)
      const id = createId()
      const generation = machine.generation
      if (!send({ type: 'subscribe', id, channels: batch.map(itemFor) })) return
      if (replies) {
        const deadline = timerSlot(clock)
        subscribeFrames.set(id, { channels: batch.map((w) => w.channel), generation, deadline })
        // No answer in time counts as a temporary refusal: asked again with backoff (S7).
        deadline.set(requestTimeoutMs, () => {
          if (!subscribeFrames.delete(id) || machine.generation !== generation) return
          for (const wire of batch) {
            refuse(wire.channel, new AgentwireError(ErrorCode.Timeout, `subscribe ${wire.channel}: no answer within ${requestTimeoutMs} ms; asking again`, { retryable: true }))
          }
        })
      }
      for (const wire of batch) {
        wire.sentOn = generation
        // No reply will come: the subscription is made once its frames are out (a refusal, if
        // the backend sends one, arrives as an `error` frame and is reported).
        if (!replies) markSubscribed(wire)
        else if (wire.status !== 'subscribed') wire.status = 'subscribing'
      }
    }
  }

  function forgetSubscribeFrames(): void {
    for (const frame of subscribeFrames.values()) frame.deadline.clear()
    subscribeFrames.clear()
  }

  function sendUnsubscribe(channels: string[]): void {
    for (let i = 0; i < channels.length; i += MAX_SUBSCRIBE_BATCH) {
      const id = createId()
      if (send({ type: 'unsubscribe', id, channels: channels.slice(i, i + MAX_SUBSCRIBE_BATCH) }) && replies) unsubscribeFrames.add(id)
    }
  }

  /** Sends every command not yet sent on this connection, oldest first. */
  function flush(): void {
    if (machine.status !== 'open') return
    const generation = machine.generation
    for (const request of outbox.unsentOn(generation)) {
      if (!send(request.frame)) return
      // Without replies, sent is all there is to know; and a command not waiting for a reply
      // is never sent again after a reconnect, which a backend without idempotency keys would
      // apply twice.
      if (replies) request.markSent(generation)
      else request.resolve(undefined)
    }
  }

  function command(frame: CommandFrame): Promise<unknown> {
    if (machine.status === 'closed') return Promise.reject(new ClientClosedError(`"${frame.type}" after close(): call connect() first, or create a new client`))
    const encoded = codec.encode(frame)
    if (!encoded.ok) return Promise.reject(encoded.error)
    let request
    try {
      request = outbox.add(frame)
    } catch (error) {
      return Promise.reject(error)
    }
    if (machine.status === 'idle' && options.autoConnect === false) debug('command queued until connect()', { type: frame.type })
    if (alive()) flush()
    return request.promise
  }

  // ── receiving ───────────────────────────────────────────────────────────────────────

  function receive(generation: number, data: unknown): void {
    // Frames from an abandoned connection are history.
    if (generation !== machine.generation || !hasSocket(machine)) return
    stats.framesIn++
    lastReceived = clock.now()
    pingSentAt = undefined
    let decoded: DecodeResult
    try {
      decoded = codec.decode(data)
    } catch (error) {
      decoded = { ok: false, error: new ProtocolError(ErrorCode.BadRequest, `the ${codec.name} codec threw: ${messageOf(error)}`, { cause: error }) }
    }
    if (!decoded.ok) return protocolError(generation, decoded.error)
    protocolErrorRun = 0
    if ('unknown' in decoded) {
      stats.unknownFrames++
      debug('unknown frame skipped', { type: decoded.unknown })
      return
    }
    for (const message of decoded.messages) {
      if (generation !== machine.generation || !hasSocket(machine)) break
      try {
        handle(generation, message)
      } catch (error) {
        report(new AgentwireError(ErrorCode.Internal, `handling a "${message.type}" frame failed: ${messageOf(error)}`, { cause: error }))
      }
    }
  }

  function protocolError(generation: number, error: ProtocolError): void {
    stats.decodeErrors++
    protocolErrorRun++
    report(error)
    if (protocolErrorRun >= maxProtocolErrors) {
      protocolErrorRun = 0
      dispatch({ type: 'protocolErrors', generation })
    }
  }

  function handle(generation: number, message: ServerMessage): void {
    switch (message.type) {
      case 'welcome':
        dispatch({ type: 'welcome', generation })
        if (message.subscriptions) applySubscribeResults(message.subscriptions)
        return
      case 'reply': {
        const frame = subscribeFrames.get(message.id)
        if (frame) {
          subscribeFrames.delete(message.id)
          frame.deadline.clear()
          if (frame.generation !== generation) return
          if (message.ok) applySubscribeResults(subscribeResultsOf(message.result, frame.channels))
          else for (const channel of frame.channels) refuse(channel, errorFromBody(message.error, `subscribe ${channel}`))
          return
        }
        if (unsubscribeFrames.delete(message.id)) return
        const request = outbox.get(message.id)
        if (!request) return debug('reply to no pending command', { id: message.id })
        if (message.ok) request.resolve(message.result)
        else request.reject(errorFromBody(message.error, request.frame.type))
        return
      }
      case 'event':
        return deliver(message)
      case 'state':
        return applyState(message)
      case 'error': {
        const error = errorFromBody(message.error)
        const request = message.id === undefined ? undefined : outbox.get(message.id)
        if (request) request.reject(error)
        else report(error)
        return
      }
      case 'refresh':
        return refreshToken()
      case 'ping':
        send({ type: 'pong', ...(message.t === undefined ? {} : { t: message.t }) })
        return
      case 'pong':
        return
    }
  }

  function deliver(message: EventMessage): void {
    const { channel, event } = message
    // After an unsubscribe, events already on their way are not anyone's business; on a
    // backend without server-side subscriptions this is the client-side filter.
    if (!subscriptions.covers(channel)) return
    const positioned = caps.positions && message.seq !== undefined && message.epoch !== undefined
    if (positioned) {
      const verdict = positions.judge(channel, message.epoch!, message.seq!)
      if (verdict === 'duplicate') {
        stats.duplicates++
        return
      }
      if (verdict !== 'deliver') {
        if (verdict === 'backwards') stats.duplicates++
        if (!caps.resume) {
          // Nothing to ask again from: take the new position and say so, never silently.
          positions.reset(channel, message.epoch!, message.seq! - 1)
          positions.judge(channel, message.epoch!, message.seq!)
          emitter.emit('resync', { channel, reason: 'gap' } satisfies ResyncInfo)
        } else {
          debug('gap: asking again from the last position', { channel, verdict })
          if (positions.markRecovering(channel)) sendSubscribe(subscriptions.covering(channel))
          return
        }
      }
    }
    stats.events++
    store.apply(channel, event)
    // Built by assignment, not by spreading conditional literals: one object per event, not three.
    const time = message.time
    const ctx: { -readonly [K in keyof EventContext]: EventContext[K] } = { channel, replayed: readyAt !== undefined && time !== undefined && time < readyAt }
    if (positioned) {
      ctx.seq = message.seq!
      ctx.epoch = message.epoch!
    }
    if (time !== undefined) ctx.time = time
    emitter.emit(event.type, event, ctx)
    emitter.emit('event', event, ctx)
    const requestId = requestIdOf(event)
    if (requestId !== undefined) requests.get(requestId)?.settleFrom(outcomeOfEvent(event))
  }

  function applyState(message: StateMessage): void {
    const { channel } = message
    if (message.reason !== 'rejoin' && !subscriptions.covers(channel)) return
    const parsed = parseState(message.state)
    if (!parsed.ok) {
      // Schema-invalid: counted like any undecodable frame, and it moves no position.
      stats.decodeErrors++
      report(parsed.error)
      return
    }
    store.replace(channel, parsed.state)
    if (!channel.endsWith('*')) positions.reset(channel, message.epoch, message.seq)
    if (RESYNC_REASONS.has(message.reason)) emitter.emit('resync', { channel, reason: message.reason as ResyncInfo['reason'] } satisfies ResyncInfo)
    const requestId = message.requestId ?? (channel.startsWith('request:') ? channel.slice('request:'.length) : undefined)
    if (requestId === undefined) return
    const view = requestView(requestId)
    if (message.reason === 'rejoin') {
      const waiters = rejoinWaiters.get(requestId)
      rejoinWaiters.delete(requestId)
      if (waiters) for (const w of waiters) w.resolve(view)
    }
    requests.get(requestId)?.settleFrom(outcomeOfView(view))
  }

  function subscribeResultsOf(result: unknown, channels: string[]): SubscribeResult[] {
    const list = Array.isArray(result)
      ? result
      : result !== null && typeof result === 'object'
        ? ((result as { subscriptions?: unknown }).subscriptions ?? (result as { channels?: unknown }).channels)
        : undefined
    if (Array.isArray(list)) {
      const parsed: SubscribeResult[] = []
      for (const item of list) {
        const r = SubscribeResultSchema.safeParse(item)
        if (r.success) parsed.push(r.data)
      }
      if (parsed.length > 0) return parsed
    }
    // A bare `ok`: every channel of the frame is subscribed.
    return channels.map((channel) => ({ ok: true as const, channel, recovered: false }))
  }

  function applySubscribeResults(results: readonly SubscribeResult[]): void {
    for (const result of results) {
      if (result.ok) {
        const wire = subscriptions.get(result.channel)
        if (wire) markSubscribed(wire)
        positions.answered(result.channel)
      } else {
        refuse(result.channel, errorFromBody(result.error, `subscribe ${result.channel}`))
      }
    }
  }

  function markSubscribed(wire: WireSubscription): void {
    wire.status = 'subscribed'
    wire.error = undefined
    wire.failures = 0
    wire.settle()
  }

  /**
   * A subscribe was refused. Temporary (overloaded, rate limited: RELIABILITY S7): the channel
   * is still wanted, so it stays `subscribing` and is asked for again with backoff on this
   * connection (a new connection asks anyway), and `ready` waits for the outcome. Permanent
   * (forbidden, invalid channel): `failed`, `ready` rejects with the typed error, and it is not
   * asked for again, not even after a reconnect. The connection stays up either way.
   */
  function refuse(channel: string, error: AgentwireError): void {
    const wire = subscriptions.get(channel)
    if (!wire) return
    wire.error = error
    wire.failures++
    report(error)
    if (error.retryable && wire.failures <= policy.maxRetries) {
      wire.status = 'subscribing'
      const generation = machine.generation
      const retry = timerSlot(clock)
      extraTimers.add(retry)
      retry.set(backoffDelay(wire.failures, policy), () => {
        extraTimers.delete(retry)
        // Only the retry of this very refusal: a reconnect or a later answer supersedes it.
        if (machine.generation === generation && subscriptions.get(channel) === wire && wire.status === 'subscribing' && wire.error === error) sendSubscribe([wire])
      })
      return
    }
    wire.status = 'failed'
    wire.settle(error)
    // A request the client follows and cannot subscribe to: ask for its state instead.
    const requestId = channel.startsWith('request:') ? channel.slice('request:'.length) : undefined
    if (requestId !== undefined && requests.has(requestId) && error.code !== ErrorCode.Forbidden) {
      void command({ type: 'rejoin', id: createId(), requestId }).catch((e: unknown) => report(asError(e)))
    }
  }

  // ── recovery across a reload (C7) ───────────────────────────────────────────────────

  /** The last page's channels: their state in the store at once, their positions to resume from. */
  function restore(): void {
    if (!recovery) return
    for (const saved of recovery.load()) {
      store.replace(saved.channel, saved.state)
      positions.reset(saved.channel, saved.epoch, saved.seq)
    }
  }

  /** Saves each followed channel's position with the state built up to it; on hide, never per event. */
  function save(): void {
    if (!recovery) return
    if (!recovery.claim()) {
      if (keyConflictReported) return
      keyConflictReported = true
      report(
        new AgentwireError(
          ErrorCode.Conflict,
          `another live client on this page keeps its recovery data under "${recovery.key}"; give each client its own \`instance\` (or \`storageKey\`). This one saves nothing while the other holds it.`,
          { retryable: false },
        ),
      )
      return
    }
    const channels: SavedChannel[] = []
    for (const position of positions.all()) {
      if (!subscriptions.covers(position.channel)) continue
      const state = store.channelState(position.channel)
      // A position without the state built up to it would resume into an empty store: both or neither.
      if (state !== undefined) channels.push({ ...position, state })
    }
    const outcome = recovery.save(channels)
    if (outcome.saved) return debug('recovery data saved', { channels: channels.length, length: outcome.length })
    if (outcome.reason === 'too large') return debug('recovery data not saved: larger than maxStorageLength', { length: outcome.length })
    report(new AgentwireError(ErrorCode.Internal, `recovery data could not be saved: ${messageOf(outcome.error)}`, { cause: outcome.error, retryable: false }))
  }

  function refreshToken(): void {
    const token = options.token
    if (typeof token !== 'function') return debug('refresh asked, but the token is a fixed string')
    Promise.resolve()
      .then(() => token())
      .then((value) => {
        if (typeof value !== 'string') throw new TypeError(`the token function returned ${typeof value}, expected a string`)
        currentToken = value
        return command({ type: 'auth', id: createId(), token: value })
      })
      .catch((error: unknown) => report(new AgentwireError(ErrorCode.Unauthorized, `token refresh failed: ${messageOf(error)}`, { cause: error, retryable: true })))
  }

  function report(error: AgentwireError): void {
    if (emitter.count('error') > 0) emitter.emit('error', error)
    else debug('error', { code: error.code, message: error.message })
  }

  // ── subscriptions ───────────────────────────────────────────────────────────────────

  function onLastRelease(wire: WireSubscription): void {
    if (caps.serverSubscribe && hasSocket(machine) && wire.sentOn === machine.generation) {
      if (machine.status === 'open') sendUnsubscribe([wire.channel])
      else pendingUnsubscribes.add(wire.channel)
    }
    // The cheap test first: `covers` walks every subscription, and a page releasing a thousand
    // channels must not pay positions × subscriptions for each.
    for (const channel of positions.channels()) {
      if ((channel === wire.channel || wire.channel.endsWith('*')) && !subscriptions.covers(channel)) {
        positions.forget(channel)
        store.forget(channel)
      }
    }
    // A pattern that still covers the channel keeps its state: a later snapshot replaces it.
    if (!subscriptions.covers(wire.channel)) store.forget(wire.channel)
  }

  function subscribe(channel: string, viaRejoin = false): Subscription {
    const { channel: canonical, pattern } = canonicalChannel(channel)
    const { handle, created } = subscriptions.acquire(canonical, pattern)
    if (created) {
      if (viaRejoin && machine.status === 'open') {
        // The rejoin itself makes the gateway follow the channel; a subscribe would only repeat the snapshot.
        handle.wire.sentOn = machine.generation
        handle.wire.status = 'subscribing'
      } else if (machine.status === 'open') {
        if (!caps.serverSubscribe) markSubscribed(handle.wire)
        else if (alive()) sendSubscribe([handle.wire])
      }
    }
    if (machine.status === 'idle') connect()
    return handle
  }

  function requestView(requestId: string): RequestView | undefined {
    const requests = store.getSnapshot().requests
    return Object.prototype.hasOwnProperty.call(requests, requestId) ? requests[requestId] : undefined
  }

  function track(requestId: string, viaRejoin: boolean): TrackedRequest {
    const existing = requests.get(requestId)
    if (existing && !existing.done) return existing
    const tracked = trackRequest(requestId, subscribe(`request:${requestId}`, viaRejoin), (t) => {
      if (requests.get(t.requestId) === t) requests.delete(t.requestId)
    })
    requests.set(requestId, tracked)
    return tracked
  }

  // ── the public surface ──────────────────────────────────────────────────────────────

  function connect(): void {
    if (!stopWatching) {
      stopWatching = watchEnvironment(environment, {
        online: () => dispatch({ type: 'online' }),
        offline: () => dispatch({ type: 'offline' }),
        wake: () => dispatch({ type: 'wake' }),
        hide: save,
      })
    }
    dispatch({ type: 'connect' })
    if (isOffline(environment)) dispatch({ type: 'offline' })
  }

  const client: Client = {
    get state(): ConnectionStatus {
      return machine.status
    },
    get stats(): Readonly<ClientStats> {
      return { ...stats }
    },
    on(type: string, handler: (...args: never[]) => void): () => void {
      if (typeof handler !== 'function') throw new TypeError(`agentwire: client.on("${String(type)}", handler) needs a function as handler`)
      if (!CLIENT_EVENTS.has(type) && !isEventType(type)) {
        throw new TypeError(
          `agentwire: client.on("${String(type)}"): unknown event. Use 'state', 'error', 'resync', 'event' (every event) or an event type such as 'agent.status'.`,
        )
      }
      return emitter.on(type, handler)
    },
    subscribe: (channel: string) => subscribe(channel),
    start(input: StartInput): Run {
      if (input === null || typeof input !== 'object' || typeof input.query !== 'string') {
        throw new TypeError("agentwire: client.start({ query }) needs a query string, e.g. client.start({ query: 'summarise the logs' })")
      }
      const requestId = input.requestId ?? createId()
      canonicalChannel(`request:${requestId}`)
      const tracked = track(requestId, false)
      const frame: CommandFrame = {
        type: 'start',
        id: createId(),
        requestId,
        query: input.query,
        ...(input.context === undefined ? {} : { context: input.context }),
      }
      const accepted = command(frame).then(() => undefined)
      accepted.catch((error: unknown) => tracked.fail(asError(error)))
      return {
        id: requestId,
        accepted,
        result: tracked.result,
        cancel: (reason?: string) => client.cancel(requestId, reason),
        feedback: (questionId: string, answer: unknown) => client.feedback(requestId, questionId, answer),
        getState: () => requestView(requestId),
      }
    },
    cancel(requestId: string, reason?: string): Promise<void> {
      return command({ type: 'cancel', id: createId(), requestId, ...(reason === undefined ? {} : { reason }) }).then(() => undefined)
    },
    feedback(requestId: string, questionId: string, answer: unknown): Promise<void> {
      return command({ type: 'feedback', id: createId(), requestId, questionId, answer }).then(() => undefined)
    },
    rejoin(requestId: string): Promise<RequestView | undefined> {
      canonicalChannel(`request:${requestId}`)
      if (machine.status === 'closed') return Promise.reject(new ClientClosedError('rejoin after close(): call connect() first, or create a new client'))
      track(requestId, true)
      return new Promise<RequestView | undefined>((resolve, reject) => {
        let waiters = rejoinWaiters.get(requestId)
        if (!waiters) rejoinWaiters.set(requestId, (waiters = new Set()))
        const timer = timerSlot(clock)
        const waiter = {
          resolve: (view: RequestView | undefined) => {
            timer.clear()
            extraTimers.delete(timer)
            resolve(view)
          },
          reject: (error: AgentwireError) => {
            timer.clear()
            extraTimers.delete(timer)
            reject(error)
          },
        }
        waiters.add(waiter)
        const forget = () => rejoinWaiters.get(requestId)?.delete(waiter)
        command({ type: 'rejoin', id: createId(), requestId }).then(
          () => {
            const wire = subscriptions.get(`request:${requestId}`)
            if (wire && wire.sentOn === machine.generation) markSubscribed(wire)
            // The state frame normally comes first; if the gateway sent none, answer from the store.
            if (!rejoinWaiters.get(requestId)?.has(waiter)) return
            extraTimers.add(timer)
            timer.set(requestTimeoutMs, () => {
              forget()
              waiter.resolve(requestView(requestId))
            })
          },
          (error: unknown) => {
            forget()
            waiter.reject(asError(error))
          },
        )
      })
    },
    ack(channel: string, seq: number, ackOptions?: { kind?: 'received' | 'read'; messageId?: string }): void {
      const { channel: canonical } = canonicalChannel(channel)
      const frame: CommandFrame = {
        type: 'ack',
        id: createId(),
        channel: canonical,
        seq,
        ...(ackOptions?.kind === undefined ? {} : { kind: ackOptions.kind }),
        ...(ackOptions?.messageId === undefined ? {} : { messageId: ackOptions.messageId }),
      }
      command(frame).catch((error: unknown) => report(asError(error)))
    },
    getSnapshot: (): AgentwireState => store.getSnapshot(),
    subscribeStore: (listener: () => void) => store.subscribe(listener),
    connect,
    reconnect(): void {
      if (machine.status === 'closed' || machine.status === 'idle' || machine.status === 'unauthorized') return connect()
      dispatch({ type: 'reconnect' })
    },
    close(): void {
      dispatch({ type: 'close' })
    },
  }

  restore()
  if (options.autoConnect !== false) connect()
  return client
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function asError(error: unknown): AgentwireError {
  return error instanceof AgentwireError ? error : new AgentwireError(ErrorCode.Internal, messageOf(error), { cause: error })
}

/** A URL fit for an error message: no query string or credentials, which may hold secrets. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return 'the configured url'
  }
}
