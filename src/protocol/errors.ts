import { ErrorCode, RETRYABLE_ERRORS } from './codes'
import { ERROR_CLOSED, ERROR_TIMEOUT } from './code-values'

/**
 * The one error class of agentwire: a stable `code`, a retry verdict, and a message that says
 * what was expected and what came. Never carries a token or a frame's full payload.
 */
export class AgentwireError extends Error {
  // Declared, then assigned in the constructor (own properties, in this order, as class fields
  // would make them): a browser bundle (ES2020) then needs no define-property helper.
  declare readonly name: string
  declare readonly code: ErrorCode
  declare readonly retryable: boolean
  /** Where in a frame the problem is, e.g. `["payload", "status"]`. */
  declare readonly path: ReadonlyArray<string | number>
  /** A foreign backend's error frame as it came, when one reported this error. */
  declare readonly raw?: unknown

  constructor(code: ErrorCode, message: string, options: { path?: ReadonlyArray<string | number>; retryable?: boolean; cause?: unknown; raw?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AgentwireError'
    this.code = code
    this.retryable = options.retryable ?? RETRYABLE_ERRORS.has(code)
    this.path = options.path ?? []
    this.raw = options.raw
  }
}

/** A frame that could not be decoded: bad JSON, wrong shape, too big, too deep. */
export class ProtocolError extends AgentwireError {
  declare readonly name: 'ProtocolError'
  constructor(...args: ConstructorParameters<typeof AgentwireError>) {
    super(...args)
    this.name = 'ProtocolError'
  }
}

/** A command to a closed client, or one still pending when `close()` was called. */
export class ClientClosedError extends AgentwireError {
  declare readonly name: 'ClientClosedError'
  constructor(message = 'The client was closed; create a new one or call connect() again.') {
    super(ERROR_CLOSED, message)
    this.name = 'ClientClosedError'
  }
}

/** A command the server did not answer in time. */
export class TimeoutError extends AgentwireError {
  declare readonly name: 'TimeoutError'
  constructor(message: string) {
    super(ERROR_TIMEOUT, message)
    this.name = 'TimeoutError'
  }
}
