import { AgentwireError } from 'agentwire/protocol'
import { ERROR_INTERNAL } from '../protocol/code-values'

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Anything thrown, as a typed error (an `internal` one unless it already is one). */
export function asError(error: unknown): AgentwireError {
  return error instanceof AgentwireError ? error : new AgentwireError(ERROR_INTERNAL, messageOf(error), { cause: error })
}
