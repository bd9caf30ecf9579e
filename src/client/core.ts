import { AgentwireError, type Capabilities, type Codec } from 'agentwire/protocol'
import { ERROR_INTERNAL } from '../protocol/code-values'
import { backoffPolicy, type BackoffPolicy } from './backoff'
import { realClock } from './clock'
import { resolveCodec } from './dialect'
import { createEmitter, type Emitter } from './emitter'
import { messageOf } from './errors'
import { createPositions, type Positions } from './positions'
import { createStore, type Store } from './store'
import type { ClientOptions, ClientStats, Clock } from './types'

/**
 * What the parts of one client share: its options resolved, the codec, the clock, the
 * counters, the store and positions, the listeners, and where errors and debug lines go.
 */
export interface ClientCore {
  readonly options: ClientOptions
  readonly codec: Codec
  readonly caps: Capabilities
  /** Whether the backend answers commands and subscribes by id; without replies, sent is done. */
  readonly replies: boolean
  readonly clock: Clock
  readonly policy: BackoffPolicy
  readonly requestTimeoutMs: number
  readonly stats: ClientStats
  readonly emitter: Emitter
  readonly store: Store
  readonly positions: Positions
  /** To `client.on('error')` listeners, or to `debug` when there are none. */
  report(error: AgentwireError): void
  debug(message: string, data?: Record<string, unknown>): void
}

export function createCore(options: ClientOptions): ClientCore {
  const codec = resolveCodec(options.dialect, options.events)
  const caps = codec.capabilities
  const debug = options.debug ?? (() => {})
  const emitter = createEmitter((error, type) => {
    if (type === 'error') {
      debug('an error handler threw', { message: messageOf(error) })
      return
    }
    report(new AgentwireError(ERROR_INTERNAL, `a "${type}" handler threw: ${messageOf(error)}`, { cause: error, retryable: false }))
  })
  function report(error: AgentwireError): void {
    if (emitter.count('error') > 0) emitter.emit('error', error)
    else debug('error', { code: error.code, message: error.message })
  }
  return {
    options,
    codec,
    caps,
    replies: caps.replies ?? caps.handshake,
    clock: options.clock ?? realClock,
    policy: backoffPolicy(options.reconnect),
    requestTimeoutMs: positive(options.requestTimeoutMs, 10_000),
    stats: { framesIn: 0, framesOut: 0, events: 0, duplicates: 0, decodeErrors: 0, unknownFrames: 0, backendErrors: 0, reconnects: 0 },
    emitter,
    store: createStore({
      events: options.events,
      onReducerError: (name, error) => report(new AgentwireError(ERROR_INTERNAL, `the reducer "${name}" threw: ${messageOf(error)}`, { cause: error, retryable: false })),
      onError: (error) => report(new AgentwireError(ERROR_INTERNAL, `a store listener threw: ${messageOf(error)}`, { cause: error, retryable: false })),
    }),
    positions: createPositions(),
    report,
    debug,
  }
}

/** A usable positive number, or the default. */
export function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback
}
