import * as values from './code-values'

/** The native protocol's version; `hello.v` must equal it or the gateway closes with 4406. */
export const PROTOCOL_VERSION = 1

/**
 * WebSocket close codes. Ours live in 4000–4999 (RFC 6455 §7.4.2). Each carries its retry
 * verdict in {@link CLOSE_CODE_INFO}; {@link isRetryableClose} is the one place that decides.
 */
export const CloseCode = {
  Normal: values.CLOSE_NORMAL,
  GoingAway: values.CLOSE_GOING_AWAY,
  NoStatus: values.CLOSE_NO_STATUS,
  Abnormal: values.CLOSE_ABNORMAL,
  InvalidPayload: values.CLOSE_INVALID_PAYLOAD,
  PolicyViolation: values.CLOSE_POLICY_VIOLATION,
  MessageTooBig: values.CLOSE_MESSAGE_TOO_BIG,
  InternalError: values.CLOSE_INTERNAL_ERROR,
  ServiceRestart: values.CLOSE_SERVICE_RESTART,
  TryAgainLater: values.CLOSE_TRY_AGAIN_LATER,
  BadGateway: values.CLOSE_BAD_GATEWAY,
  /** A frame that is not the protocol: bad JSON, schema-invalid, wrong order. */
  BadRequest: values.CLOSE_BAD_REQUEST,
  /** No hello, a command before the welcome, or the token was refused. */
  Unauthorized: values.CLOSE_UNAUTHORIZED,
  /** The principal may not connect at all. */
  Forbidden: values.CLOSE_FORBIDDEN,
  /** `hello.v` is not a version this gateway speaks. */
  UnsupportedProtocol: values.CLOSE_UNSUPPORTED_PROTOCOL,
  /** No hello within the gateway's deadline. */
  AuthTimeout: values.CLOSE_AUTH_TIMEOUT,
  /** The token expired and no fresh one came in time; the client asks its token function again. */
  TokenExpired: values.CLOSE_TOKEN_EXPIRED,
  /** Too many frames (token bucket), or a second hello. */
  RateLimited: values.CLOSE_RATE_LIMITED,
  /** The principal has too many open connections. */
  TooManyConnections: values.CLOSE_TOO_MANY_CONNECTIONS,
  /** The client heard nothing from the server within its heartbeat deadline (set by the client). */
  HeartbeatTimeout: values.CLOSE_HEARTBEAT_TIMEOUT,
  /** The handshake did not complete within the connect timeout (set by the client). */
  ConnectTimeout: values.CLOSE_CONNECT_TIMEOUT,
  /** Too many consecutive undecodable frames from the server (set by the client). */
  ProtocolErrors: values.CLOSE_PROTOCOL_ERRORS,
  /** The gateway failed; try again. */
  ServerError: values.CLOSE_SERVER_ERROR,
  /** The connection fell too far behind: its outgoing buffer passed the limit. */
  SlowConsumer: values.CLOSE_SLOW_CONSUMER,
} as const
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

export interface CloseCodeInfo {
  name: string
  /** Whether a client should reconnect (with backoff) after this close. */
  retryable: boolean
}

/** Standard codes (below 4000) a client must not reconnect after; every other one it reconnects after. */
const FATAL_STANDARD: readonly number[] = [values.CLOSE_NORMAL, values.CLOSE_INVALID_PAYLOAD, values.CLOSE_POLICY_VIOLATION]

/** Our own codes (4000–4999) a client reconnects after; any other of ours, known or not, is fatal. */
const RETRYABLE_OWN: readonly number[] = [
  values.CLOSE_AUTH_TIMEOUT,
  values.CLOSE_TOKEN_EXPIRED,
  values.CLOSE_RATE_LIMITED,
  values.CLOSE_TOO_MANY_CONNECTIONS,
  values.CLOSE_HEARTBEAT_TIMEOUT,
  values.CLOSE_CONNECT_TIMEOUT,
  values.CLOSE_PROTOCOL_ERRORS,
  values.CLOSE_SERVER_ERROR,
  values.CLOSE_SLOW_CONSUMER,
]

/**
 * The retry verdict for a close code. Unknown codes in 1000–2999 follow RFC 6455 usage
 * (retry), unknown private codes (4000–4999) are treated as fatal so a server can stop a
 * client with a code this version does not know.
 */
export function isRetryableClose(code: number): boolean {
  return code < 4000 ? !FATAL_STANDARD.includes(code) : RETRYABLE_OWN.includes(code)
}

/**
 * Each close code's name (`going_away`, the snake case of its {@link CloseCode} key) and retry
 * verdict ({@link isRetryableClose}). Derived, so a client bundle that only asks
 * `isRetryableClose` carries no table of names.
 */
export const CLOSE_CODE_INFO: Readonly<Record<number, CloseCodeInfo>> = /* @__PURE__ */ (() => {
  const info: Record<number, CloseCodeInfo> = {}
  for (const [key, code] of Object.entries(CloseCode)) {
    info[code] = { name: key.replace(/[A-Z]/g, (c, i: number) => (i ? '_' : '') + c.toLowerCase()), retryable: isRetryableClose(code) }
  }
  return Object.freeze(info)
})()

/**
 * Closes for a limit of the principal or the connection (too many connections, too many
 * frames): retryable, but a retry soon after meets the same limit, so the client waits its
 * longest delay (the eleventh tab of one user must not reconnect every few hundred ms).
 */
export function isLimitClose(code: number): boolean {
  return code === values.CLOSE_TOO_MANY_CONNECTIONS || code === values.CLOSE_RATE_LIMITED
}

/** Error codes carried by `reply` and `error` frames and by typed errors on the client. */
export const ErrorCode = {
  BadRequest: values.ERROR_BAD_REQUEST,
  UnknownType: values.ERROR_UNKNOWN_TYPE,
  /** A command name the gateway has no schema for (`commands`), answered without closing. */
  UnknownCommand: values.ERROR_UNKNOWN_COMMAND,
  /** An event type the gateway has no schema for (`events`), refused at `publish`. */
  UnknownEvent: values.ERROR_UNKNOWN_EVENT,
  Unauthorized: values.ERROR_UNAUTHORIZED,
  Forbidden: values.ERROR_FORBIDDEN,
  NotFound: values.ERROR_NOT_FOUND,
  InvalidChannel: values.ERROR_INVALID_CHANNEL,
  TooManyChannels: values.ERROR_TOO_MANY_CHANNELS,
  RateLimited: values.ERROR_RATE_LIMITED,
  Overloaded: values.ERROR_OVERLOADED,
  Unsupported: values.ERROR_UNSUPPORTED,
  Conflict: values.ERROR_CONFLICT,
  PayloadTooLarge: values.ERROR_PAYLOAD_TOO_LARGE,
  Internal: values.ERROR_INTERNAL,
  Timeout: values.ERROR_TIMEOUT,
  OutboxFull: values.ERROR_OUTBOX_FULL,
  Closed: values.ERROR_CLOSED,
  /** A request ended with `request.error` (the client's `run.result` rejects with it). */
  RequestFailed: values.ERROR_REQUEST_FAILED,
  /** A request ended with `request.cancelled`. */
  Cancelled: values.ERROR_CANCELLED,
  /** A cancel or feedback stored before a reload, too old to send after it (`steering.ttlMs`, or the gateway's idempotency TTL). */
  Expired: values.ERROR_EXPIRED,
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Error codes worth retrying as they are; the rest need a change first. */
export const RETRYABLE_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  values.ERROR_RATE_LIMITED,
  values.ERROR_OVERLOADED,
  values.ERROR_INTERNAL,
  values.ERROR_TIMEOUT,
])

/** RFC 6455 limits a close reason to 123 bytes of UTF-8; this trims on a character boundary. */
export function trimCloseReason(reason: string, maxBytes = 123): string {
  const encoder = new TextEncoder()
  if (encoder.encode(reason).length <= maxBytes) return reason
  let out = ''
  let bytes = 0
  for (const ch of reason) {
    const n = encoder.encode(ch).length
    if (bytes + n > maxBytes) break
    out += ch
    bytes += n
  }
  return out
}

/**
 * A gateway's word on when to come back, carried in the reason of a 1001, 1012 or 1013 close
 * (`gateway restarting; reconnect within 5000 ms (slot 0.3820)`): spread the first reconnect
 * over the next `windowMs`, at `slot` (0–1) of that window when the gateway assigned one. A
 * drain gives each connection its own slot so a fleet returns evenly instead of by chance.
 */
export interface ReconnectHint {
  readonly windowMs: number
  /** Where in the window this connection should come back, 0 to 1; absent: the client draws its own. */
  readonly slot?: number
}

/** Close codes whose reason may carry a {@link ReconnectHint}: the gateway asked the client to come back later. */
const HINTED_CLOSES: ReadonlySet<number> = new Set([values.CLOSE_GOING_AWAY, values.CLOSE_SERVICE_RESTART, values.CLOSE_TRY_AGAIN_LATER])

const HINT_PATTERN = /reconnect within (\d{1,9}) ms(?: \(slot (0(?:\.\d{1,9})?|1(?:\.0{1,9})?)\))?/

/** `reason` followed by the hint in the form {@link parseReconnectHint} reads, within the 123-byte limit. */
export function reconnectHintReason(reason: string, hint: ReconnectHint): string {
  const windowMs = Math.max(0, Math.min(999_999_999, Math.round(hint.windowMs)))
  const slot = hint.slot === undefined || !(hint.slot >= 0) ? '' : ` (slot ${Math.min(1, hint.slot).toFixed(4)})`
  const suffix = `reconnect within ${windowMs} ms${slot}`
  return `${trimCloseReason(reason, 123 - suffix.length - 2)}; ${suffix}`
}

/** The hint in a close from the gateway, or `undefined` when the code is not one that carries it or the reason has none. */
export function parseReconnectHint(code: number, reason: string): ReconnectHint | undefined {
  if (!HINTED_CLOSES.has(code)) return undefined
  const match = HINT_PATTERN.exec(reason)
  if (!match) return undefined
  const windowMs = Number(match[1])
  return match[2] === undefined ? { windowMs } : { windowMs, slot: Number(match[2]) }
}
