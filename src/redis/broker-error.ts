import { AgentwireError, ErrorCode } from 'agentwire/protocol'

/** Every failure of a Redis-backed broker or publisher: the connection is down, or Redis refused. */
export class BrokerError extends AgentwireError {
  override readonly name = 'BrokerError'
  constructor(message: string, options: { cause?: unknown; code?: ErrorCode; retryable?: boolean } = {}) {
    super(options.code ?? ErrorCode.Overloaded, message, { cause: options.cause, retryable: options.retryable ?? true })
  }
}

/** Turns whatever node-redis threw into a BrokerError with a message that says what failed. */
export function brokerError(what: string, err: unknown): BrokerError {
  if (err instanceof BrokerError) return err
  const reason = err instanceof Error ? err.message : String(err)
  const replied = err instanceof Error && err.constructor.name.endsWith('ErrorReply')
  return new BrokerError(`${what} failed: ${replied ? 'Redis replied' : 'Redis unavailable'}: ${reason}`, {
    cause: err,
    code: replied ? ErrorCode.Internal : ErrorCode.Overloaded,
  })
}
