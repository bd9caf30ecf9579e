import { AgentwireError, CloseCode, ErrorCode, createEventCheck, parseChannel, reconnectHintReason } from 'agentwire/protocol'
import type { AgentEvent, UserEvent } from 'agentwire/protocol'
import type { Broker, StoredEvent } from './broker'
import { realClock } from './clock'
import { createCommandRunner } from './commands'
import { ServerConnection, type Connection, type GatewayConnection, type GatewaySocket } from './connection'
import { createFanout } from './fanout'
import { memoryBroker } from './memory-broker'
import {
  ANONYMOUS,
  DEFAULT_HEARTBEAT,
  DEFAULT_TOKEN_EXPIRY,
  resolveLimits,
  type AuthOutcome,
  type GatewayCoreOptions,
  type HandshakeInfo,
  type Principal,
  type ResolvedLimits,
} from './options'
import { createRateCounter, type DropCause, type GatewayStats } from './stats'

/**
 * The gateway without a network: connections come in as {@link GatewaySocket}s from whatever
 * runtime binds it (`ws` in `createGateway`), so every protocol rule is testable in-process and
 * another server runtime can be bound later.
 */
export interface GatewayCore {
  readonly broker: Broker
  readonly limits: ResolvedLimits
  /** False while closing or when too many handshakes are pending: refuse the upgrade (HTTP 503). */
  canAccept(): boolean
  /** A new socket. Returns `undefined` (after closing it with 1013) when it cannot be accepted. */
  accept(socket: GatewaySocket, handshake: HandshakeInfo): GatewayConnection | undefined
  /** Validates the channel and the event (built-in, or one of `events`), then publishes through the broker. */
  publish(channel: string, event: AgentEvent | UserEvent): Promise<StoredEvent>
  /** Closes every connection of a principal (logout, revoked grant) with 4401; returns how many. */
  revoke(principal: Principal | string): number
  /** Counts a refusal that happened before a connection existed (origin, oversized frame in the binding). */
  drop(cause: DropCause): void
  stats(): GatewayStats
  /**
   * Stops accepting, closes every client with 1012, waits up to `drainMs` for them to go, then
   * ends the rest. Each 1012 tells its client when to come back (see {@link GatewayCloseOptions}).
   */
  close(options?: GatewayCloseOptions): Promise<void>
}

export interface GatewayCloseOptions {
  /** How long to wait for clients to finish the closing handshake. @default 5000 */
  drainMs?: number
  /**
   * The window over which the closed clients should spread their reconnects, sent in each 1012
   * with a slot of its own (`gateway restarting; reconnect within 4000 ms (slot 0.6180)`), so a
   * fleet comes back evenly instead of within the clients' first backoff step. Clients take it
   * up to their own `maxDelayMs`, and keep their slot for later retries if the gateway is not
   * back by then. @default one millisecond per connection (1,000 reconnects per second)
   */
  reconnectWindowMs?: number
}

/** What a connection keeps of its handshake when the gateway has no `authenticate` to give it to. */
const NO_HANDSHAKE: HandshakeInfo = Object.freeze({ headers: Object.freeze({}) })

/** The reconnect rate a drain asks for by default: its window is the connection count over this. */
const DRAIN_RECONNECTS_PER_SECOND = 1000

/**
 * Slot of the i-th connection closed by a drain: the golden-ratio sequence, which fills [0, 1)
 * evenly for any count, and gives neighbours (connections opened together, often the same
 * tenant or channels) slots far apart.
 */
function drainSlot(i: number): number {
  return (0.5 + i * 0.6180339887498949) % 1
}

export function createGatewayCore(options: GatewayCoreOptions = {}): GatewayCore {
  const clock = options.clock ?? realClock
  const limits = resolveLimits(options.limits)
  const heartbeat = { ...DEFAULT_HEARTBEAT, ...options.heartbeat }
  const token = { ...DEFAULT_TOKEN_EXPIRY, ...options.token }
  const log = options.logger ?? (() => undefined)
  const ownsBroker = options.broker === undefined
  const definitions = options.events
  const broker = options.broker ?? memoryBroker({ clock, ...(options.retention ? { retention: options.retention } : {}), ...(definitions ? { events: definitions } : {}) })
  // A broker of the application's: it keeps the reducers' state in snapshots from now on.
  if (definitions !== undefined && options.broker !== undefined) options.broker.define?.(definitions)
  const checkEvent = createEventCheck(definitions)
  const startedAt = clock.now()

  const all = new Set<Connection>()
  const byPrincipal = new Map<string, Set<Connection>>()
  let pendingHandshakes = 0
  const pending = new Set<Connection>()
  let closing = false
  const drops: Partial<Record<DropCause, number>> = {}
  const framesIn = createRateCounter()
  const framesOut = createRateCounter()
  let events = 0
  const drained: Array<() => void> = []

  const drop = (cause: DropCause) => {
    drops[cause] = (drops[cause] ?? 0) + 1
  }

  const fanout = createFanout(broker, {
    onEvent: () => {
      events++
    },
    onError: () => log({ level: 'error', message: 'broker unsubscribe failed' }),
  })

  async function publish(channel: string, event: AgentEvent | UserEvent): Promise<StoredEvent> {
    const parsed = parseChannel(channel)
    if (!parsed.ok) throw new AgentwireError(ErrorCode.InvalidChannel, parsed.reason)
    if (parsed.pattern) throw new AgentwireError(ErrorCode.InvalidChannel, `publish needs a concrete channel, got the pattern "${parsed.channel}"`)
    // Events from in-process code are checked like frames from the network: the same schemas, no prototype keys.
    return broker.publish(parsed.channel, checkEvent(event) as AgentEvent)
  }

  const commands = createCommandRunner({
    publish,
    authorize: (principal, channel, action) => authorize(principal, channel, action),
    onCommand: options.onCommand,
    commands: options.commands,
    idempotencyTtlMs: options.idempotencyTtlMs ?? 300_000,
    clock,
    log,
  })

  async function authorize(principal: Principal, channel: string, action: Parameters<NonNullable<GatewayCoreOptions['authorize']>>[2]): Promise<boolean> {
    if (!options.authorize) return true
    return (await options.authorize(principal, channel, action)) === true
  }

  async function authenticate(tokenValue: string | undefined, handshake: HandshakeInfo): Promise<AuthOutcome> {
    if (!options.authenticate) return ANONYMOUS
    try {
      return await options.authenticate(tokenValue, handshake)
    } catch (error) {
      // The error's message may quote the token: only its name is logged.
      log({ level: 'warn', message: 'authenticate threw; refusing', data: { error: error instanceof Error ? error.name : typeof error } })
      return null
    }
  }

  let sweepTimer: unknown
  // Fine enough that a dead link is reaped within interval + timeout + 10 % (two sweeps of lateness:
  // the ping's and the verdict's); at the default 25 s / 10 s that is one pass every 500 ms.
  const sweepEveryMs = Math.max(10, Math.min(heartbeat.intervalMs, heartbeat.timeoutMs) / 20)
  function sweep(): void {
    const now = clock.now()
    for (const connection of [...all]) connection.tick(now)
    sweepTimer = clock.setTimeout(sweep, sweepEveryMs)
  }
  if (heartbeat.intervalMs > 0) sweepTimer = clock.setTimeout(sweep, sweepEveryMs)

  /** The socket a logical connection rides on (tabs sharing one, ./mux); absent: its own. */
  const socketOf = new WeakMap<Connection, object>()
  const host = {
    limits,
    heartbeatMs: heartbeat.intervalMs,
    heartbeatTimeoutMs: heartbeat.timeoutMs,
    idempotencyTtlMs: options.idempotencyTtlMs ?? 300_000,
    token,
    clock,
    broker,
    fanout,
    commands,
    log,
    authenticate,
    authorize,
    admit(connection: Connection, principal: Principal): boolean {
      if (pending.delete(connection)) pendingHandshakes--
      if (principal.anonymous) return true
      let set = byPrincipal.get(principal.id)
      if (!set) byPrincipal.set(principal.id, (set = new Set()))
      // The limit counts sockets: the logical connections of tabs sharing one (./mux) count once.
      const socket = socketOf.get(connection) ?? connection
      const sockets = new Set<object>()
      for (const c of set) sockets.add(socketOf.get(c) ?? c)
      if (!sockets.has(socket) && sockets.size >= limits.maxConnectionsPerPrincipal) {
        if (set.size === 0) byPrincipal.delete(principal.id)
        return false
      }
      set.add(connection)
      return true
    },
    release(connection: Connection): void {
      if (pending.delete(connection)) pendingHandshakes--
      for (const [id, set] of byPrincipal) {
        if (set.delete(connection) && set.size === 0) byPrincipal.delete(id)
      }
    },
    forget(connection: Connection): void {
      all.delete(connection)
      if (all.size === 0) for (const resolve of drained.splice(0)) resolve()
    },
    drop,
    frameIn: () => framesIn.add(clock.now()),
    frameOut: () => framesOut.add(clock.now()),
  }

  return {
    broker,
    limits,
    canAccept: () => !closing && pendingHandshakes < limits.maxPendingHandshakes,
    accept(socket, handshake) {
      if (closing || pendingHandshakes >= limits.maxPendingHandshakes) {
        drop('pending_handshakes')
        socket.close(CloseCode.TryAgainLater, closing ? 'gateway closing' : 'too many pending handshakes')
        return undefined
      }
      // Only `authenticate` reads the handshake: without one, a connection keeps none (its headers, and the request until hello).
      const kept = options.authenticate ? handshake : NO_HANDSHAKE
      const connection: Connection = new ServerConnection(host, socket, kept, globalThis.crypto.randomUUID())
      const shared = (socket as { readonly shared?: object }).shared
      if (shared) socketOf.set(connection, shared)
      all.add(connection)
      pending.add(connection)
      pendingHandshakes++
      return connection
    },
    publish,
    revoke(principal) {
      const id = typeof principal === 'string' ? principal : principal.id
      const set = byPrincipal.get(id)
      if (!set) return 0
      const connections = [...set]
      for (const connection of connections) connection.close(CloseCode.Unauthorized, 'revoked', 'revoked')
      log({ level: 'info', message: 'principal revoked', data: { principal: id, connections: connections.length } })
      return connections.length
    },
    drop,
    stats() {
      const now = clock.now()
      const channels = fanout.counts()
      let total = 0
      for (const n of Object.values(channels)) total += n
      let open = 0
      for (const connection of all) if (connection.principal) open++
      return {
        connections: open,
        pendingHandshakes,
        subscriptions: { total, channels },
        framesIn: { total: framesIn.total, perSecond: framesIn.perSecond(now) },
        framesOut: { total: framesOut.total, perSecond: framesOut.perSecond(now) },
        events,
        drops: { ...drops },
        uptimeMs: now - startedAt,
        broker: broker.name,
      }
    },
    async close({ drainMs = 5000, reconnectWindowMs } = {}) {
      if (closing) return
      closing = true
      clock.clearTimeout(sweepTimer)
      const connections = [...all]
      const windowMs = reconnectWindowMs ?? (connections.length * 1000) / DRAIN_RECONNECTS_PER_SECOND
      connections.forEach((connection, i) => connection.close(CloseCode.ServiceRestart, reconnectHintReason('gateway restarting', { windowMs, slot: drainSlot(i) })))
      if (all.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = clock.setTimeout(resolve, drainMs)
          drained.push(() => {
            clock.clearTimeout(timer)
            resolve()
          })
        })
      }
      // Whoever did not finish the closing handshake in time is cut off.
      for (const connection of [...all]) connection.terminate()
      await fanout.close()
      if (ownsBroker) await broker.close()
    },
  }
}
