import { ErrorCode, RETRYABLE_ERRORS } from './codes'

/**
 * The one error class of agentwire: a stable `code`, a retry verdict, and a message that says
 * what was expected and what came. Never carries a token or a frame's full payload.
 */
export class AgentwireError extends Error {
  override readonly name: string = 'AgentwireError'
  readonly code: ErrorCode
  readonly retryable: boolean
  /** Where in a frame the problem is, e.g. `["payload", "status"]`. */
  readonly path: ReadonlyArray<string | number>
  /** A foreign backend's error frame as it came, when one reported this error. */
  readonly raw?: unknown

  constructor(code: ErrorCode, message: string, options: { path?: ReadonlyArray<string | number>; retryable?: boolean; cause?: unknown; raw?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.retryable = options.retryable ?? RETRYABLE_ERRORS.has(code)
    this.path = options.path ?? []
    if (options.raw !== undefined) this.raw = options.raw
  }
}

/** A frame that could not be decoded: bad JSON, wrong shape, too big, too deep. */
export class ProtocolError extends AgentwireError {
  override readonly name = 'ProtocolError'
}

/** A command to a closed client, or one still pending when `close()` was called. */
export class ClientClosedError extends AgentwireError {
  override readonly name = 'ClientClosedError'
  constructor(message = 'The client was closed; create a new one or call connect() again.') {
    super(ErrorCode.Closed, message)
  }
}

/** A command the server did not answer in time. */
export class TimeoutError extends AgentwireError {
  override readonly name = 'TimeoutError'
  constructor(message: string) {
    super(ErrorCode.Timeout, message)
  }
}
