import { AgentwireError, ClientClosedError, ErrorCode, framesOf, type AgentEvent, type RequestView, type ServerMessage } from 'agentwire/protocol'
import {
  CLOSE_INTERNAL_ERROR,
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_RATE_LIMITED,
  CLOSE_SERVER_ERROR,
  ERROR_FORBIDDEN,
  ERROR_INTERNAL,
  ERROR_PAYLOAD_TOO_LARGE,
  ERROR_RATE_LIMITED,
} from '../protocol/code-values'
import { getKey } from '../protocol/records'
import { timerSlot, type TimerSlot } from './clock'
import type { Connection } from './connection'
import type { ClientCore } from './core'
import { asError } from './errors'
import { createId } from './ids'
import { createOutbox } from './outbox'
import { errorFromBody, type CommandFrame, type PendingRequest } from './request'
import { outcomeOfEvent, outcomeOfView, requestIdOf, trackRequest, type TrackedRequest } from './run'
import type { Steering } from './recovery-plugin'
import { canonicalChannel } from './subscription'
import type { Client, CommandOptions, Run, StartInput, Subscription } from './types'
import type { WireSubscriptions } from './wire'

/**
 * Commands and the requests they steer: every command goes through the outbox (queued while
 * the link is down, re-sent with the same id after a drop, answered by a `reply`); `start` and
 * `rejoin` track a request to its end through a subscription on `request:{id}`; `rejoin()`
 * calls wait for the request's `state` frame.
 */
export interface Requests extends Pick<Client, 'start' | 'cancel' | 'feedback' | 'rejoin' | 'ack'> {
  /** Queues a command and sends it at once when the link is alive. */
  command(frame: CommandFrame, timeoutMs?: number): Promise<unknown>
  /** One of the application's commands, its payload checked against `options.commands` first. */
  named(name: string, payload: unknown, options?: CommandOptions): Promise<unknown>
  /** Sends every command not yet sent on this connection, oldest first. */
  flush(): void
  /** The request's state in the store. */
  view(requestId: string): RequestView | undefined
  /** The limits of the gateway's `welcome`: `maxPayload` checked for each command, the rate kept to. */
  limits(limits: Readonly<Record<string, number>> | undefined): void
  /** A `reply` to a command. */
  reply(message: Extract<ServerMessage, { type: 'reply' }>): void
  /** An `error` frame: the command it names fails with it; false when it names none. */
  error(message: Extract<ServerMessage, { type: 'error' }>): boolean
  /** An event reached the store: a request it ends settles. */
  event(event: AgentEvent): void
  /** A request's state reached the store (`rejoin`: the answer the waiters wait for). */
  state(requestId: string, rejoin: boolean): void
  /** After a reconnect to a backend that replays nothing: ask for the state of every request followed. */
  rejoinFollowed(generation: number): void
  /** A subscription was refused for good: a request followed there is asked for by `rejoin` instead. */
  failed(channel: string, error: AgentwireError): void
  lost(): void
  rejectPending(error: AgentwireError): void
  terminate(): void
}

/**
 * Closes a command of the client's can cause (the gateway refused what it read: too big, too
 * many; or failed on it), with the error a command is rejected with when the connection closed
 * this way twice in a row after it was sent: a poison command is not sent a third time (it would
 * otherwise churn the connection, and every subscription with it, for good).
 */
const COMMAND_CLOSES: Readonly<Record<number, ErrorCode>> = {
  [CLOSE_MESSAGE_TOO_BIG]: ERROR_PAYLOAD_TOO_LARGE,
  [CLOSE_RATE_LIMITED]: ERROR_RATE_LIMITED,
  [CLOSE_INTERNAL_ERROR]: ERROR_INTERNAL,
  [CLOSE_SERVER_ERROR]: ERROR_INTERNAL,
}

type Waiter = { resolve: (view: RequestView | undefined) => void; reject: (error: AgentwireError) => void }

/**
 * @param subscribe subscribes (and connects an idle client), like `client.subscribe`.
 * @param steering where cancels and feedback are kept across a reload, when there is storage.
 */
export function createRequests(
  core: ClientCore,
  connection: Connection,
  wire: WireSubscriptions,
  subscribe: (channel: string, viaRejoin: boolean) => Subscription,
  steering?: Steering,
): Requests {
  const { options, codec, replies, clock, requestTimeoutMs, store, report, debug } = core
  const outbox = createOutbox({ clock, capacity: Math.max(0, Math.floor(options.outboxSize ?? 100)), timeoutMs: requestTimeoutMs })
  const tracked = new Map<string, TrackedRequest>()
  /** `rejoin()` calls waiting for their `state` frame, per request id. */
  const rejoinWaiters = new Map<string, Set<Waiter>>()
  /** Timers of rejoin answers, cleared on close. */
  const timers = new Set<TimerSlot>()
  /** The gateway's largest frame, from its last `welcome`; unknown: not checked. */
  let maxPayload: number | undefined
  /** How long the gateway remembers a command's id, from its last `welcome`: a restored command older than that is not sent. */
  let idempotencyTtlMs: number | undefined
  /**
   * Commands' share of the welcome's rate, as a token bucket: half its burst at once and half its
   * rate after, the other half left to subscribes, pings and pongs. A full outbox flushed after
   * a reconnect would otherwise trip the gateway's limit (`rate_limited`, then 4429) every time.
   */
  let bucket: { perMs: number; burst: number; tokens: number; at: number } | undefined
  const pace = timerSlot(clock)
  /** Per command in flight: the code of the close that followed it last. */
  const strikes = new WeakMap<PendingRequest, number>()

  /** Takes a token for one command: 0 when it may go now, else the milliseconds until it may. */
  function wait(): number {
    if (!bucket) return 0
    const now = clock.now()
    bucket.tokens = Math.min(bucket.burst, bucket.tokens + (now - bucket.at) * bucket.perMs)
    bucket.at = now
    if (bucket.tokens < 1) return Math.ceil((1 - bucket.tokens) / bucket.perMs)
    bucket.tokens--
    return 0
  }

  /** Why the gateway cannot take `frame` (larger than its maxPayload), or undefined. */
  function refusal(frame: CommandFrame): AgentwireError | undefined {
    if (maxPayload === undefined) return undefined
    const encoded = codec.encode(frame)
    if (!encoded.ok) return undefined
    for (const text of framesOf(encoded)) {
      // UTF-8 bytes, which is what a WebSocket's maxPayload counts.
      const size = typeof text === 'string' ? new TextEncoder().encode(text).length : 0
      if (size > maxPayload) return new AgentwireError(ERROR_PAYLOAD_TOO_LARGE, `"${frame.type}" is ${size} bytes, over the gateway's maxPayload of ${maxPayload}`)
    }
    return undefined
  }

  function flush(): void {
    if (connection.state.status !== 'open') return
    const generation = connection.state.generation
    for (const request of outbox.unsentOn(generation)) {
      // Made before this welcome's limits were known: checked now, before it can close the link.
      const refused = refusal(request.frame) ?? steering?.expired(request.frame, idempotencyTtlMs)
      if (refused) {
        request.reject(refused)
        continue
      }
      const ms = wait()
      if (ms > 0) return pace.set(ms, flush)
      if (!connection.send(request.frame)) return
      // Without replies, sent is all there is to know; and a command not waiting for a reply
      // is never sent again after a reconnect, which a backend without idempotency keys would
      // apply twice.
      if (replies) request.markSent(generation)
      else request.resolve(undefined)
    }
  }

  function command(frame: CommandFrame, timeoutMs?: number): Promise<unknown> {
    const status = connection.state.status
    if (status === 'closed') return Promise.reject(new ClientClosedError(`"${frame.type}" after close(): call connect() first, or create a new client`))
    const encoded = codec.encode(frame)
    if (!encoded.ok) return Promise.reject(encoded.error)
    const refused = refusal(frame)
    if (refused) return Promise.reject(refused)
    let request
    try {
      request = outbox.add(frame, timeoutMs)
    } catch (error) {
      return Promise.reject(error)
    }
    steering?.keep(request)
    if (status === 'idle' && options.autoConnect === false) debug('command queued until connect()', { type: frame.type })
    if (connection.alive()) flush()
    return request.promise
  }

  function rejoinCommand(requestId: string): void {
    command({ type: 'rejoin', id: createId(), requestId }).catch((error: unknown) => report(asError(error)))
  }

  function view(requestId: string): RequestView | undefined {
    const requests = store.getSnapshot().requests
    return getKey(requests, requestId)
  }

  function track(requestId: string, viaRejoin: boolean): TrackedRequest {
    const existing = tracked.get(requestId)
    if (existing && !existing.done) return existing
    const t = trackRequest(requestId, subscribe(`request:${requestId}`, viaRejoin), (done) => {
      if (tracked.get(done.requestId) === done) tracked.delete(done.requestId)
    })
    tracked.set(requestId, t)
    return t
  }

  function rejectPending(error: AgentwireError): void {
    outbox.rejectAll(error)
    for (const waiters of rejoinWaiters.values()) for (const w of waiters) w.reject(error)
    rejoinWaiters.clear()
  }

  function cancel(requestId: string, reason?: string): Promise<void> {
    return command({ type: 'cancel', id: createId(), requestId, ...(reason === undefined ? {} : { reason }) }).then(() => undefined)
  }

  function feedback(requestId: string, questionId: string, answer: unknown): Promise<void> {
    return command({ type: 'feedback', id: createId(), requestId, questionId, answer }).then(() => undefined)
  }

  function named(name: string, payload: unknown, callOptions: CommandOptions = {}): Promise<unknown> {
    if (typeof name !== 'string' || name.length === 0) return Promise.reject(new TypeError("agentwire: client.command(name, payload) needs a command name, e.g. client.command('pause', { agent: 'planner' })"))
    const defs = options.commands
    // Strict at home: a name or payload the definitions refuse never leaves the client.
    const checked = defs ? defs.check(name, payload) : { ok: true as const, value: payload }
    if (!checked.ok) return Promise.reject(checked.error)
    const timeoutMs = callOptions.timeoutMs !== undefined && callOptions.timeoutMs > 0 ? callOptions.timeoutMs : undefined
    const frame: CommandFrame = { type: 'command', id: callOptions.id ?? createId(), name, ...(checked.value === undefined ? {} : { payload: checked.value }) }
    const sent = command(frame, timeoutMs)
    // The reply is input too: held to the `result` schema like any frame.
    return defs
      ? sent.then((value) => {
          const reply = defs.checkResult(name, value)
          if (!reply.ok) throw reply.error
          return reply.value
        })
      : sent
  }

  return {
    command,
    named,
    flush,
    view,
    cancel,
    feedback,
    start(input: StartInput): Run {
      if (input === null || typeof input !== 'object' || typeof input.query !== 'string') {
        throw new TypeError("agentwire: client.start({ query }) needs a query string, e.g. client.start({ query: 'summarise the logs' })")
      }
      const requestId = input.requestId ?? createId()
      canonicalChannel(`request:${requestId}`)
      const t = track(requestId, false)
      const frame: CommandFrame = {
        type: 'start',
        id: createId(),
        requestId,
        query: input.query,
        ...(input.context === undefined ? {} : { context: input.context }),
      }
      const accepted = command(frame).then(() => undefined)
      accepted.catch((error: unknown) => t.fail(asError(error)))
      return {
        id: requestId,
        accepted,
        result: t.result,
        cancel: (reason?: string) => cancel(requestId, reason),
        feedback: (questionId: string, answer: unknown) => feedback(requestId, questionId, answer),
        getState: () => view(requestId),
      }
    },
    rejoin(requestId: string): Promise<RequestView | undefined> {
      canonicalChannel(`request:${requestId}`)
      if (connection.state.status === 'closed') return Promise.reject(new ClientClosedError('rejoin after close(): call connect() first, or create a new client'))
      track(requestId, true)
      return new Promise<RequestView | undefined>((resolve, reject) => {
        let waiters = rejoinWaiters.get(requestId)
        if (!waiters) rejoinWaiters.set(requestId, (waiters = new Set()))
        const timer = timerSlot(clock)
        const waiter: Waiter = {
          resolve: (v) => {
            timer.clear()
            timers.delete(timer)
            resolve(v)
          },
          reject: (error) => {
            timer.clear()
            timers.delete(timer)
            reject(error)
          },
        }
        waiters.add(waiter)
        const forget = () => rejoinWaiters.get(requestId)?.delete(waiter)
        command({ type: 'rejoin', id: createId(), requestId }).then(
          () => {
            wire.joined(`request:${requestId}`)
            // The state frame normally comes first; if the gateway sent none, answer from the store.
            if (!rejoinWaiters.get(requestId)?.has(waiter)) return
            timers.add(timer)
            timer.set(requestTimeoutMs, () => {
              forget()
              waiter.resolve(view(requestId))
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
    limits(limits) {
      const max = limits?.maxPayload
      maxPayload = typeof max === 'number' && max > 0 ? max : undefined
      const ttl = limits?.idempotencyTtlMs
      idempotencyTtlMs = typeof ttl === 'number' && ttl > 0 ? ttl : undefined
      const perSecond = limits?.ratePerSecond ?? 0
      const burst = Math.max(1, Math.floor((limits?.rateBurst ?? perSecond) / 2))
      bucket = perSecond > 0 ? { perMs: perSecond / 2000, burst, tokens: burst, at: clock.now() } : undefined
    },
    reply(message) {
      const request = outbox.get(message.id)
      if (!request) return debug('reply to no pending command', { id: message.id })
      if (message.ok) request.resolve(message.result)
      else request.reject(errorFromBody(message.error, request.frame.type))
    },
    error(message) {
      const request = message.id === undefined ? undefined : outbox.get(message.id)
      if (!request) return false
      request.reject(errorFromBody(message.error))
      return true
    },
    event(event) {
      // Every event passes here; only one of a request someone awaits can settle anything.
      if (tracked.size === 0) return
      const requestId = requestIdOf(event)
      if (requestId !== undefined) tracked.get(requestId)?.settleFrom(outcomeOfEvent(event))
    },
    state(requestId, rejoin) {
      const v = view(requestId)
      if (rejoin) {
        const waiters = rejoinWaiters.get(requestId)
        rejoinWaiters.delete(requestId)
        if (waiters) for (const w of waiters) w.resolve(v)
      }
      tracked.get(requestId)?.settleFrom(outcomeOfView(v))
    },
    rejoinFollowed(generation) {
      // A `rejoin()` the app made while disconnected goes out with the outbox: not asked twice.
      const queued = new Set<string>()
      for (const request of outbox.unsentOn(generation)) if (request.frame.type === 'rejoin') queued.add(request.frame.requestId)
      for (const w of wire.registry.all()) {
        if (w.pattern || !w.channel.startsWith('request:')) continue
        const requestId = w.channel.slice('request:'.length)
        if (!queued.has(requestId)) rejoinCommand(requestId)
      }
    },
    failed(channel, error) {
      // A request the client follows and cannot subscribe to: ask for its state instead.
      const requestId = channel.startsWith('request:') ? channel.slice('request:'.length) : undefined
      if (requestId !== undefined && tracked.has(requestId) && error.code !== ERROR_FORBIDDEN) rejoinCommand(requestId)
    },
    lost() {
      const state = connection.state
      const close = 'lastClose' in state ? state.lastClose : undefined
      const code = close && COMMAND_CLOSES[close.code]
      for (const request of outbox.inFlight()) {
        if (!code) strikes.delete(request)
        else if (strikes.get(request) !== close.code) strikes.set(request, close.code)
        else request.reject(new AgentwireError(code, `"${request.frame.type}" not sent again: the connection closed twice after it (close ${close.code}${close.reason ? `: ${close.reason}` : ''})`))
      }
      pace.clear()
      outbox.connectionLost()
    },
    rejectPending,
    terminate() {
      pace.clear()
      for (const t of timers) t.clear()
      timers.clear()
      const closed = new ClientClosedError()
      rejectPending(closed)
      for (const t of [...tracked.values()]) t.fail(closed)
    },
  }
}

