/**
 * The close and error codes, each a constant of its own: what `CloseCode` and `ErrorCode`
 * (./codes) are made of, and what the library's own code reads. A bundler inlines a constant
 * but keeps a whole object for one of its properties, so a browser bundle of `createClient`
 * carries neither table. Internal: not exported from `agentwire/protocol`, whose names for
 * these are `CloseCode.Normal`, `ErrorCode.Internal` and so on. Constants only, so a module of
 * another entry may import this file itself; a copy of a number in two chunks is harmless.
 */

// Close codes (CloseCode), named after their keys.
export const CLOSE_NORMAL = 1000
export const CLOSE_GOING_AWAY = 1001
export const CLOSE_NO_STATUS = 1005
export const CLOSE_ABNORMAL = 1006
export const CLOSE_INVALID_PAYLOAD = 1007
export const CLOSE_POLICY_VIOLATION = 1008
export const CLOSE_MESSAGE_TOO_BIG = 1009
export const CLOSE_INTERNAL_ERROR = 1011
export const CLOSE_SERVICE_RESTART = 1012
export const CLOSE_TRY_AGAIN_LATER = 1013
export const CLOSE_BAD_GATEWAY = 1014
export const CLOSE_BAD_REQUEST = 4400
export const CLOSE_UNAUTHORIZED = 4401
export const CLOSE_FORBIDDEN = 4403
export const CLOSE_UNSUPPORTED_PROTOCOL = 4406
export const CLOSE_AUTH_TIMEOUT = 4408
export const CLOSE_TOKEN_EXPIRED = 4410
export const CLOSE_RATE_LIMITED = 4429
export const CLOSE_TOO_MANY_CONNECTIONS = 4430
export const CLOSE_HEARTBEAT_TIMEOUT = 4440
export const CLOSE_CONNECT_TIMEOUT = 4441
export const CLOSE_PROTOCOL_ERRORS = 4442
export const CLOSE_SERVER_ERROR = 4500
export const CLOSE_SLOW_CONSUMER = 4503

// Error codes (ErrorCode), named after their keys.
export const ERROR_BAD_REQUEST = 'bad_request'
export const ERROR_UNKNOWN_TYPE = 'unknown_type'
export const ERROR_UNKNOWN_COMMAND = 'unknown_command'
export const ERROR_UNKNOWN_EVENT = 'unknown_event'
export const ERROR_UNAUTHORIZED = 'unauthorized'
export const ERROR_FORBIDDEN = 'forbidden'
export const ERROR_NOT_FOUND = 'not_found'
export const ERROR_INVALID_CHANNEL = 'invalid_channel'
export const ERROR_TOO_MANY_CHANNELS = 'too_many_channels'
export const ERROR_RATE_LIMITED = 'rate_limited'
export const ERROR_OVERLOADED = 'overloaded'
export const ERROR_UNSUPPORTED = 'unsupported'
export const ERROR_CONFLICT = 'conflict'
export const ERROR_PAYLOAD_TOO_LARGE = 'payload_too_large'
export const ERROR_INTERNAL = 'internal'
export const ERROR_TIMEOUT = 'timeout'
export const ERROR_OUTBOX_FULL = 'outbox_full'
export const ERROR_CLOSED = 'closed'
export const ERROR_REQUEST_FAILED = 'request_failed'
export const ERROR_CANCELLED = 'cancelled'
export const ERROR_EXPIRED = 'expired'
