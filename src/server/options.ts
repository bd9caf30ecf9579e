import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { ClientFrameOf } from 'agentwire/protocol'
import type { Broker, RetentionOptions } from './broker'
import type { ServerClock } from './clock'

/** Who is on the other end of a connection, as `authenticate` decided. `id` keys per-user limits and request ownership. */
export interface Principal {
  readonly id: string
  /** Set on the principal used when no `authenticate` is configured; exempt from the per-principal connection cap. */
  readonly anonymous?: boolean
  readonly [key: string]: unknown
}

/** What `authenticate` may return: a principal (or its id), optionally with the token's expiry; `null` refuses. */
export type AuthOutcome = Principal | string | { readonly principal: Principal | string; readonly expiresAt?: number } | null | undefined

/** What a channel is being authorized for. `command`: cancel/feedback on a request this gateway did not see start. */
export type AuthorizeAction = 'subscribe' | 'resume' | 'rejoin' | 'command'

/** The handshake as the gateway saw it: enough to decide on cookies, addresses or headers. Never logged. */
export interface HandshakeInfo {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly remoteAddress?: string
  readonly url?: string
  /**
   * The Node request, when the `ws` binding accepted the connection. Given to the first
   * `authenticate` only: a token refresh (`auth`) gets the headers, address and URL without it,
   * so an open connection does not hold the request (~1 KB each).
   */
  readonly request?: IncomingMessage
}

/** A command the gateway runs: the built-in ones, and the application's own (`type: 'command'`, `name`, `payload` validated against `commands`). */
export type CommandFrame = ClientFrameOf<'start'> | ClientFrameOf<'cancel'> | ClientFrameOf<'feedback'> | ClientFrameOf<'ack'> | ClientFrameOf<'command'>

/** What a command handler may use. */
export interface CommandContext {
  readonly principal: Principal
  /** The connection's session id. */
  readonly session: string
  /** Publish an event (e.g. `request.started` on `request:{id}`). */
  publish: GatewayPublish
  /** What the gateway would have done without `onCommand`: call it to keep the default and add to it. */
  defaultHandler(): Promise<unknown>
}

/** Publishes a built-in event or one of the application's (`events`), validated like a frame from the network. */
export type GatewayPublish = (channel: string, event: import('agentwire/protocol').AgentEvent | import('agentwire/protocol').UserEvent) => Promise<import('./broker').StoredEvent>

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error'
  /** A fixed message, e.g. `bad frame`; never a token or a payload. */
  readonly message: string
  /** Ids, codes and counts only. */
  readonly data?: Readonly<Record<string, string | number | boolean | undefined>>
}
export type GatewayLogger = (entry: LogEntry) => void

export interface GatewayLimits {
  /** Largest incoming message in bytes; a bigger one closes the connection with 1009 (ws). @default 65536 */
  maxPayload?: number
  /** Outgoing bytes queued per connection before it is closed as a slow consumer (4503). @default 1048576 */
  maxBufferedBytes?: number
  /** Token bucket for incoming frames. @default { perSecond: 50, burst: 100 } */
  rate?: { perSecond?: number; burst?: number }
  /**
   * Consecutive frames refused by the rate limit (each answered `rate_limited`) after which the
   * connection is closed with 4429.
   * @default the burst (100)
   */
  maxRateStrikes?: number
  /** Channels (and patterns) one connection may hold; more are refused with `too_many_channels`. @default 128 */
  maxChannels?: number
  /** Open connections per principal; the next is closed with 4430. Anonymous connections are not counted. @default 10 */
  maxConnectionsPerPrincipal?: number
  /** Connections that have not finished `hello` yet; more are refused (HTTP 503 / close 1013). @default 1000 */
  maxPendingHandshakes?: number
  /** Time to send `hello` before the connection is closed with 4408. @default 5000 */
  authTimeoutMs?: number
  /** Frames of one connection waiting for an earlier one (e.g. a slow broker read); more are answered `overloaded`. @default 256 */
  maxQueuedFrames?: number
}

export interface GatewayHeartbeat {
  /** Ping a connection after this much silence from it (native WebSocket ping). @default 25000 */
  intervalMs?: number
  /** Close a connection that has not answered a ping within this time. @default 10000 */
  timeoutMs?: number
}

export interface TokenExpiryOptions {
  /** Ask for a fresh token this long before it expires (at most half its remaining life). @default 30000 */
  refreshBeforeMs?: number
  /** Keep the connection this long past the expiry, waiting for an `auth` frame, before closing with 4410. @default 2000 */
  graceMs?: number
}

/** The socket-level core's options: everything except where to listen. */
export interface GatewayCoreOptions {
  /** Where events live. @default memoryBroker({ retention }) — created and closed by the gateway */
  broker?: Broker
  /** Replay window of the default memory broker (ignored when `broker` is given). @default { size: 1000, maxAgeMs: 120000 } */
  retention?: RetentionOptions
  /**
   * Checks `hello.token` (and later `auth.token`). Return the principal, `{ principal, expiresAt }`
   * for a token that expires, or `null` to refuse (close 4401). Throwing counts as refusing.
   * @default undefined: every connection is the anonymous principal `{ id: 'anonymous', anonymous: true }`
   */
  authenticate?: (token: string | undefined, handshake: HandshakeInfo) => AuthOutcome | Promise<AuthOutcome>
  /**
   * May this principal use this (canonical) channel? Asked on every subscribe, again on every
   * resume (replay) and rejoin, and for commands on requests this gateway did not see start.
   * A pattern (`user:*`, `*`) is asked for as such on subscribe, and then each concrete channel
   * it brings is asked for on its own (`subscribe`, or `resume`) before anything of that channel
   * is sent: the answer is kept per connection and channel, and asked again on resume and after
   * a token renewal. So a rule per channel (a deny-list) holds under patterns too.
   * @default allows everything
   */
  authorize?: (principal: Principal, channel: string, action: AuthorizeAction) => boolean | Promise<boolean>
  /**
   * Handles `start`, `cancel`, `feedback` and `ack`. The value returned becomes the reply's
   * `result`; an `AgentwireError` thrown becomes a typed error reply. Ownership is checked first:
   * `cancel`/`feedback` on a request another principal started is refused with `forbidden`.
   * @default start publishes `request.started` on `request:{requestId}`, cancel `request.cancelled`,
   * feedback `request.feedback`; ack is accepted and ignored
   */
  onCommand?: (command: CommandFrame, context: CommandContext) => unknown
  /**
   * The application's own event types and reducers (`defineEvents`): `publish` validates their
   * payloads (and refuses any type neither built in nor here with `unknown_event`), and the
   * broker keeps each reducer's state in every channel's snapshot, so a client that resyncs
   * gets it back. The gateway hands them to its broker (`Broker.define`).
   * @default built-in events only
   */
  events?: import('agentwire/protocol').AnyEventDefinitions
  /**
   * The application's own commands (`defineCommands`, or `{ pause: schema }`): a `command`
   * frame is validated against its schema and handed to `onCommand` with the caller's principal;
   * its return value is the reply's `result`. An unknown name is answered `unknown_command`,
   * an invalid payload `bad_request`; neither closes the connection.
   * @default none
   */
  commands?: import('agentwire/protocol').AnyCommandDefinitions | Readonly<Record<string, import('agentwire/protocol').CommandSpec>>
  limits?: GatewayLimits
  heartbeat?: GatewayHeartbeat
  token?: TokenExpiryOptions
  /** How long a command's id is remembered per principal, so a re-sent command gets the same reply without running twice. @default 300000 */
  idempotencyTtlMs?: number
  /** Receives log entries (ids, codes and counts; never tokens or payloads). @default none */
  logger?: GatewayLogger
  /** @default the real clock */
  clock?: ServerClock
}

export interface GatewayOptions extends GatewayCoreOptions {
  /** Port to listen on when the gateway creates its HTTP server; 0 picks a free one. @default 8787 */
  port?: number
  /** @default '127.0.0.1' */
  host?: string
  /** An HTTP server of yours to attach to (only its `upgrade` event is used); then `port` and `host` are ignored. @default undefined */
  server?: Server
  /** The WebSocket path. @default '/ws' */
  path?: string
  /**
   * Origins allowed to open a WebSocket, compared as exact strings (`https://app.example.com`,
   * as browsers send them: lower case, no trailing slash or dot). Anything else gets HTTP 403
   * before the upgrade.
   * @default undefined: any origin (fine on localhost; set it for anything a browser can reach)
   */
  allowedOrigins?: readonly string[]
  /** Whether a handshake without an `Origin` header (not a browser) is allowed when `allowedOrigins` is set. @default true */
  allowMissingOrigin?: boolean
  /**
   * Tried for every plain HTTP request before the gateway's own routes (`GET /stats`) and the 404;
   * return `true` when it handled the request. This is where the dashboard page hooks in.
   * @default undefined
   */
  http?: (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>
  /**
   * An AG-UI agent as the source of requests: each `start` runs it (HTTP POST, SSE answer) and
   * its events are published as canonical events on `request:{id}`, so every client resumes the
   * run without a gap or a duplicate. `onCommand`, when given too, runs first (it may call the
   * default handler); the agent runs after it.
   * @default undefined
   */
  agui?: string | import('./agui-source').AguiSourceOptions
  /**
   * Serve every request the gateway carries as an AG-UI run over SSE (`POST /agui` with a
   * `RunAgentInput` whose `runId` is the request id, or `GET /agui/{requestId}`), with `id:` on
   * every frame and `Last-Event-ID` honoured, for AG-UI frontends. With `agui` too, a POST for a
   * run nobody started starts it.
   * @default false
   */
  aguiEndpoint?: boolean | import('./agui-endpoint').AguiEndpointOptions
}

export const DEFAULT_LIMITS = {
  maxPayload: 64 * 1024,
  maxBufferedBytes: 1024 * 1024,
  ratePerSecond: 50,
  rateBurst: 100,
  maxChannels: 128,
  maxConnectionsPerPrincipal: 10,
  maxPendingHandshakes: 1000,
  authTimeoutMs: 5000,
  maxQueuedFrames: 256,
} as const

export const DEFAULT_HEARTBEAT = { intervalMs: 25_000, timeoutMs: 10_000 } as const
export const DEFAULT_TOKEN_EXPIRY = { refreshBeforeMs: 30_000, graceMs: 2_000 } as const

/** Every limit with its default filled in. */
export interface ResolvedLimits {
  readonly maxPayload: number
  readonly maxBufferedBytes: number
  readonly ratePerSecond: number
  readonly rateBurst: number
  readonly maxRateStrikes: number
  readonly maxChannels: number
  readonly maxConnectionsPerPrincipal: number
  readonly maxPendingHandshakes: number
  readonly authTimeoutMs: number
  readonly maxQueuedFrames: number
}

export function resolveLimits(limits: GatewayLimits = {}): ResolvedLimits {
  const rateBurst = limits.rate?.burst ?? DEFAULT_LIMITS.rateBurst
  return {
    maxPayload: limits.maxPayload ?? DEFAULT_LIMITS.maxPayload,
    maxBufferedBytes: limits.maxBufferedBytes ?? DEFAULT_LIMITS.maxBufferedBytes,
    ratePerSecond: limits.rate?.perSecond ?? DEFAULT_LIMITS.ratePerSecond,
    rateBurst,
    maxRateStrikes: limits.maxRateStrikes ?? rateBurst,
    maxChannels: limits.maxChannels ?? DEFAULT_LIMITS.maxChannels,
    maxConnectionsPerPrincipal: limits.maxConnectionsPerPrincipal ?? DEFAULT_LIMITS.maxConnectionsPerPrincipal,
    maxPendingHandshakes: limits.maxPendingHandshakes ?? DEFAULT_LIMITS.maxPendingHandshakes,
    authTimeoutMs: limits.authTimeoutMs ?? DEFAULT_LIMITS.authTimeoutMs,
    maxQueuedFrames: limits.maxQueuedFrames ?? DEFAULT_LIMITS.maxQueuedFrames,
  }
}

export const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', anonymous: true })
