/** The native protocol's version; `hello.v` must equal it or the gateway closes with 4406. */
export const PROTOCOL_VERSION = 1

/**
 * WebSocket close codes. Ours live in 4000–4999 (RFC 6455 §7.4.2). Each carries its retry
 * verdict in {@link CLOSE_CODE_INFO}; {@link isRetryableClose} is the one place that decides.
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  NoStatus: 1005,
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** A frame that is not the protocol: bad JSON, schema-invalid, wrong order. */
  BadRequest: 4400,
  /** No hello, a command before the welcome, or the token was refused. */
  Unauthorized: 4401,
  /** The principal may not connect at all. */
  Forbidden: 4403,
  /** `hello.v` is not a version this gateway speaks. */
  UnsupportedProtocol: 4406,
  /** No hello within the gateway's deadline. */
  AuthTimeout: 4408,
  /** The token expired and no fresh one came in time; the client asks its token function again. */
  TokenExpired: 4410,
  /** Too many frames (token bucket), or a second hello. */
  RateLimited: 4429,
  /** The principal has too many open connections. */
  TooManyConnections: 4430,
  /** The client heard nothing from the server within its heartbeat deadline (set by the client). */
  HeartbeatTimeout: 4440,
  /** The handshake did not complete within the connect timeout (set by the client). */
  ConnectTimeout: 4441,
  /** Too many consecutive undecodable frames from the server (set by the client). */
  ProtocolErrors: 4442,
  /** The gateway failed; try again. */
  ServerError: 4500,
  /** The connection fell too far behind: its outgoing buffer passed the limit. */
  SlowConsumer: 4503,
} as const
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

export interface CloseCodeInfo {
  name: string
  /** Whether a client should reconnect (with backoff) after this close. */
  retryable: boolean
}

/** The close codes a client must not reconnect after; every other code in {@link CloseCode} is retryable. */
const FATAL_CLOSES: readonly number[] = [
  CloseCode.Normal,
  CloseCode.InvalidPayload,
  CloseCode.PolicyViolation,
  CloseCode.BadRequest,
  CloseCode.Unauthorized,
  CloseCode.Forbidden,
  CloseCode.UnsupportedProtocol,
]

/**
 * Each close code's name (`going_away`, the snake case of its {@link CloseCode} key) and retry
 * verdict. Derived from `CloseCode` and the fatal list, so a client bundle that only asks
 * {@link isRetryableClose} carries no table of names.
 */
export const CLOSE_CODE_INFO: Readonly<Record<number, CloseCodeInfo>> = /* @__PURE__ */ (() => {
  const info: Record<number, CloseCodeInfo> = {}
  for (const [key, code] of Object.entries(CloseCode)) {
    info[code] = { name: key.replace(/[A-Z]/g, (c, i: number) => (i ? '_' : '') + c.toLowerCase()), retryable: !FATAL_CLOSES.includes(code) }
  }
  return Object.freeze(info)
})()

/**
 * The retry verdict for a close code. Unknown codes in 1000–2999 follow RFC 6455 usage
 * (retry), unknown private codes (4000–4999) are treated as fatal so a server can stop a
 * client with a code this version does not know.
 */
export function isRetryableClose(code: number): boolean {
  return !FATAL_CLOSES.includes(code) && (code < 4000 || Object.values<number>(CloseCode).includes(code))
}

/**
 * Closes for a limit of the principal or the connection (too many connections, too many
 * frames): retryable, but a retry soon after meets the same limit, so the client waits its
 * longest delay (the eleventh tab of one user must not reconnect every few hundred ms).
 */
export function isLimitClose(code: number): boolean {
  return code === CloseCode.TooManyConnections || code === CloseCode.RateLimited
}

/** Error codes carried by `reply` and `error` frames and by typed errors on the client. */
export const ErrorCode = {
  BadRequest: 'bad_request',
  UnknownType: 'unknown_type',
  /** A command name the gateway has no schema for (`commands`), answered without closing. */
  UnknownCommand: 'unknown_command',
  /** An event type the gateway has no schema for (`events`), refused at `publish`. */
  UnknownEvent: 'unknown_event',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  NotFound: 'not_found',
  InvalidChannel: 'invalid_channel',
  TooManyChannels: 'too_many_channels',
  RateLimited: 'rate_limited',
  Overloaded: 'overloaded',
  Unsupported: 'unsupported',
  Conflict: 'conflict',
  PayloadTooLarge: 'payload_too_large',
  Internal: 'internal',
  Timeout: 'timeout',
  OutboxFull: 'outbox_full',
  Closed: 'closed',
  /** A request ended with `request.error` (the client's `run.result` rejects with it). */
  RequestFailed: 'request_failed',
  /** A request ended with `request.cancelled`. */
  Cancelled: 'cancelled',
  /** A cancel or feedback stored before a reload, too old to send after it (`steering.ttlMs`, or the gateway's idempotency TTL). */
  Expired: 'expired',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Error codes worth retrying as they are; the rest need a change first. */
export const RETRYABLE_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.RateLimited,
  ErrorCode.Overloaded,
  ErrorCode.Internal,
  ErrorCode.Timeout,
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
const HINTED_CLOSES: ReadonlySet<number> = new Set([CloseCode.GoingAway, CloseCode.ServiceRestart, CloseCode.TryAgainLater])

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
