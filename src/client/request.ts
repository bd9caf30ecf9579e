import { AgentwireError, TimeoutError, type ClientFrame, type ErrorBody, type ErrorCode } from 'agentwire/protocol'
import type { Clock, TimerHandle } from './types'

/** The client frames that are commands: each carries an id and is answered by a `reply` with that id. */
export type CommandFrame = Extract<ClientFrame, { type: 'start' | 'cancel' | 'feedback' | 'rejoin' | 'ack' | 'auth' | 'command' }> & { id: string }

/**
 * One command awaiting its reply (phoenix's Push): its own promise and its own timeout. The id
 * is the idempotency key: a command re-sent after a dropped connection keeps it, so the
 * gateway applies it once.
 */
export interface PendingRequest {
  readonly id: string
  readonly frame: CommandFrame
  readonly promise: Promise<unknown>
  /** The connection generation it was last sent on; 0 while waiting to be sent. */
  readonly sentOn: number
  readonly settled: boolean
  /** It went out on connection `generation`: the reply timeout starts now. */
  markSent(generation: number): void
  /** Its connection is gone before the reply came: wait to be re-sent, timeout paused. */
  markUnsent(): void
  resolve(result: unknown): void
  reject(error: AgentwireError): void
}

export interface RequestOptions {
  readonly clock: Clock
  readonly timeoutMs: number
  /** Called once the request settles either way, so its owner can forget it. */
  onSettled(request: PendingRequest): void
}

export function createRequest(frame: CommandFrame, options: RequestOptions): PendingRequest {
  let resolvePromise!: (value: unknown) => void
  let rejectPromise!: (error: AgentwireError) => void
  const promise = new Promise<unknown>((res, rej) => {
    resolvePromise = res
    rejectPromise = rej
  })
  let timer: TimerHandle | undefined
  let sentOn = 0
  let settled = false
  const stopTimer = () => {
    if (timer !== undefined) options.clock.clearTimeout(timer)
    timer = undefined
  }
  const request: PendingRequest = {
    id: frame.id,
    frame,
    promise,
    get sentOn() {
      return sentOn
    },
    get settled() {
      return settled
    },
    markSent(generation) {
      if (settled) return
      sentOn = generation
      stopTimer()
      timer = options.clock.setTimeout(() => {
        timer = undefined
        request.reject(new TimeoutError(`no reply to "${frame.type}" (id ${frame.id}) within ${options.timeoutMs} ms`))
      }, options.timeoutMs)
    },
    markUnsent() {
      sentOn = 0
      stopTimer()
    },
    resolve(result) {
      if (settled) return
      settled = true
      stopTimer()
      options.onSettled(request)
      resolvePromise(result)
    },
    reject(error) {
      if (settled) return
      settled = true
      stopTimer()
      options.onSettled(request)
      rejectPromise(error)
    },
  }
  return request
}

/** A typed error from a `reply`'s or `error` frame's body. */
export function errorFromBody(body: ErrorBody, context?: string): AgentwireError {
  const message = context ? `${context}: ${body.message}` : body.message
  return new AgentwireError(body.code as ErrorCode, message, { ...(body.retryable !== undefined && { retryable: body.retryable }), ...(body.raw !== undefined && { raw: body.raw }) })
}
