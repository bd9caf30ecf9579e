import { AgentwireError, framesOf, PROTOCOL_VERSION, trimCloseReason, type ClientFrame, type ServerMessage, type SubscribeItem } from 'agentwire/protocol'
import { CLOSE_ABNORMAL, CLOSE_UNAUTHORIZED, ERROR_CLOSED, ERROR_INTERNAL, ERROR_UNAUTHORIZED } from '../protocol/code-values'
import { reconnectSchedule } from './backoff'
import { timerSlot } from './clock'
import { positive, type ClientCore } from './core'
import { defaultEnvironment, isOffline, watchEnvironment } from './environment'
import { checkLiveness, heartbeatPolicy, livenessDeadline } from './heartbeat'
import { initialConnectionState, transition, type ConnectionState, type Effect, type MachineEvent } from './machine'
import { messageOf } from './errors'
import type { StateChange, TransportConnection } from './types'
import { webSocketTransport } from './websocket-transport'

/**
 * The connection: the shell around the machine (`machine.ts`). It owns the socket, the token,
 * the retry, connect and heartbeat timers and the environment listeners, and runs the
 * machine's effects; what a ready, lost or closed connection means for subscriptions and
 * commands it leaves to the hooks.
 */
export interface Connection {
  /** The machine's state: status and the generation of the current socket. */
  readonly state: ConnectionState
  dispatch(event: MachineEvent): void
  /** Encodes and sends one frame on the current socket; false when it could not go out. */
  send(frame: ClientFrame): boolean
  /** Open and not past its liveness deadline; a link that died while timers slept is found here. */
  alive(): boolean
  /** A frame came in on the current socket: the link is alive. */
  received(): void
  /** The gateway asked for a fresh token: ask the token function and hand it to `hooks.authenticate`. */
  refreshToken(): void
  /** Watches the environment and starts connecting. */
  connect(): void
}

export interface ConnectionHooks {
  /** A frame from the socket of `generation` (possibly an abandoned one). */
  frame(generation: number, data: unknown): void
  /** What the codec answered itself for a frame sent on `generation`, after the sender has noted what it waits for. */
  answer(generation: number, messages: readonly ServerMessage[]): void
  /** The subscriptions a `hello` restores at once. */
  resumeItems(generation: number): SubscribeItem[]
  /** The connection is ready; `reconnected` when an earlier one was. */
  ready(generation: number, reconnected: boolean): void
  lost(): void
  rejectPending(error: AgentwireError): void
  terminate(): void
  /** Send a refreshed token (the `auth` command). */
  authenticate(token: string): Promise<unknown>
  /** The page is being hidden. */
  hide(): void
  state(change: StateChange): void
}

export function createConnection(core: ClientCore, hooks: ConnectionHooks): Connection {
  const { options, codec, caps, clock, policy, stats, report, debug } = core
  const transport = options.transport ?? webSocketTransport(options.WebSocket)
  const environment = options.environment === undefined ? defaultEnvironment() : options.environment
  const heartbeat = heartbeatPolicy(options.heartbeat)
  const connectTimeoutMs = positive(options.connectTimeoutMs, 10_000)
  const tokenRefreshable = typeof options.token === 'function'
  const retryTimer = timerSlot(clock)
  const connectTimer = timerSlot(clock)
  const heartbeatTimer = timerSlot(clock)
  // One wave's retries keep a phase (or the gateway's slot) so a fleet returns evenly (S2).
  const reconnectDelays = reconnectSchedule(policy)

  let machine: ConnectionState = initialConnectionState
  let socket: TransportConnection | undefined
  /** The token sent on each connection, to tell whether a refused token came back unchanged. */
  let currentToken: string | undefined
  let refusedToken: string | undefined
  let lastReceived = 0
  let pingSentAt: number | undefined
  let everOpen = false
  let stopWatching: (() => void) | undefined

  const queue: MachineEvent[] = []
  let dispatching = false
  function dispatch(event: MachineEvent): void {
    queue.push(event)
    if (dispatching) return // effects that dispatch are run after the current transition, in order
    dispatching = true
    try {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const { state, effects } = transition(machine, next, {
          now: clock.now(),
          handshake: caps.handshake,
          maxRetries: policy.maxRetries,
          stableAfterMs: policy.stableAfterMs,
          tokenRefreshable,
          delay: (attempt, hint) => reconnectDelays.delay(attempt, hint),
          limitDelayMs: policy.maxDelayMs,
        })
        machine = state
        for (const effect of effects) {
          try {
            run(effect)
          } catch (error) {
            report(new AgentwireError(ERROR_INTERNAL, `client effect "${effect.type}" failed: ${messageOf(error)}`, { cause: error }))
          }
        }
      }
    } finally {
      dispatching = false
    }
  }

  function run(effect: Effect): void {
    switch (effect.type) {
      case 'openSocket':
        return openSocket(effect.generation)
      case 'closeSocket': {
        const c = socket
        socket = undefined
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
      case 'ready': {
        const reconnected = everOpen
        everOpen = true
        refusedToken = undefined
        return hooks.ready(effect.generation, reconnected)
      }
      case 'lost':
        return hooks.lost()
      case 'rejectPending':
        return hooks.rejectPending(new AgentwireError(effect.code === 'unauthorized' ? ERROR_UNAUTHORIZED : ERROR_CLOSED, effect.message))
      case 'terminate':
        stopWatching?.()
        stopWatching = undefined
        retryTimer.clear()
        connectTimer.clear()
        heartbeatTimer.clear()
        return hooks.terminate()
      case 'emitState':
        debug('state', { previous: effect.change.previous, current: effect.change.current })
        return hooks.state(effect.change)
    }
  }

  // ── opening ─────────────────────────────────────────────────────────────────────────

  function isConnecting(generation: number): boolean {
    return machine.status === 'connecting' && machine.generation === generation
  }

  function openSocket(generation: number): void {
    socket = undefined
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
    report(new AgentwireError(ERROR_UNAUTHORIZED, `the token function failed: ${messageOf(error)}`, { cause: error, retryable: true }))
    dispatch({ type: 'tokenFailed', generation, reason: 'token function failed' })
  }

  function attach(generation: number, token: string | undefined): void {
    if (machine.status === 'connecting' && machine.authRetry && refusedToken !== undefined && token === refusedToken) {
      return dispatch({ type: 'tokenUnchanged', generation })
    }
    currentToken = token
    try {
      socket = transport.connect(options.url, {
        onOpen: () => dispatch({ type: 'socketOpen', generation }),
        onFrame: (frame) => hooks.frame(generation, frame),
        onClose: (code, reason) => {
          if (machine.generation !== generation) return
          if (code === CLOSE_UNAUTHORIZED) refusedToken = currentToken
          debug('socket closed', { code, reason })
          dispatch({ type: 'socketClosed', generation, code, reason })
        },
        onError: (error) => debug('socket error', { message: messageOf(error) }),
      })
    } catch (error) {
      report(new AgentwireError(ERROR_INTERNAL, `could not open a connection to ${redactUrl(options.url)}: ${messageOf(error)}`, { cause: error, retryable: true }))
      dispatch({ type: 'socketClosed', generation, code: CLOSE_ABNORMAL, reason: 'transport failed to connect' })
    }
  }

  function sendHello(): void {
    const items = caps.serverSubscribe ? hooks.resumeItems(machine.generation) : []
    send({
      type: 'hello',
      v: PROTOCOL_VERSION,
      client: 'agentwire',
      ...(currentToken === undefined ? {} : { token: currentToken }),
      ...(items.length > 0 ? { resume: items } : {}),
    })
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
    if (verdict.verdict === 'ping') ping(now)
    heartbeatTimer.set(verdict.nextCheckAt - now, tick)
  }

  /** Pings and starts the wait for an answer: the link is judged `timeoutMs` after this. */
  function ping(now: number): void {
    pingSentAt = now
    send({ type: 'ping', t: now })
  }

  function alive(): boolean {
    if (machine.status !== 'open') return false
    if (caps.heartbeat === 'none') return true
    const now = clock.now()
    const verdict = checkLiveness(now, { lastReceived, pingSentAt }, heartbeat)
    if (verdict.verdict === 'ping') {
      // Silent past the interval while timers slept: ask now, before what is about to be sent.
      ping(now)
      heartbeatTimer.set(verdict.nextCheckAt - now, tick)
    }
    if (verdict.verdict !== 'dead') return true
    debug('link dead (found on send)', { silentMs: verdict.silentMs })
    dispatch({ type: 'dead', generation: machine.generation })
    return false
  }

  function probe(): void {
    if (machine.status !== 'open' || caps.heartbeat === 'none') return
    const asked = pingSentAt
    // Dead, or silent long enough that alive() has just pinged: nothing more to ask.
    if (!alive() || pingSentAt !== asked) return
    const now = clock.now()
    if (pingSentAt === undefined) ping(now)
    else send({ type: 'ping', t: now })
    heartbeatTimer.set(livenessDeadline({ lastReceived, pingSentAt }, heartbeat) - now, tick)
  }

  function send(frame: ClientFrame): boolean {
    const c = socket
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
    const local = (encoded as { local?: readonly ServerMessage[] }).local
    if (local) {
      const generation = machine.generation
      // A microtask: the sender records the reply it waits for after `send` returns.
      queueMicrotask(() => hooks.answer(generation, local))
    }
    return true
  }

  return {
    get state() {
      return machine
    },
    dispatch,
    send,
    alive,
    received() {
      lastReceived = clock.now()
      pingSentAt = undefined
    },
    refreshToken() {
      const token = options.token
      if (typeof token !== 'function') return debug('refresh asked, but the token is a fixed string')
      Promise.resolve()
        .then(() => token())
        .then((value) => {
          if (typeof value !== 'string') throw new TypeError(`the token function returned ${typeof value}, expected a string`)
          currentToken = value
          return hooks.authenticate(value)
        })
        .catch((error: unknown) => report(new AgentwireError(ERROR_UNAUTHORIZED, `token refresh failed: ${messageOf(error)}`, { cause: error, retryable: true })))
    },
    connect() {
      if (!stopWatching) {
        stopWatching = watchEnvironment(environment, {
          online: () => dispatch({ type: 'online' }),
          offline: () => dispatch({ type: 'offline' }),
          wake: () => dispatch({ type: 'wake' }),
          hide: hooks.hide,
        })
      }
      dispatch({ type: 'connect' })
      if (isOffline(environment)) dispatch({ type: 'offline' })
    },
  }
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
