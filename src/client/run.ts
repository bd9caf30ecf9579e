import { AgentwireError, type AgentEvent, type RequestView } from 'agentwire/protocol'
import { ERROR_CANCELLED, ERROR_REQUEST_FAILED } from '../protocol/code-values'
import type { Subscription } from './types'

/**
 * A request the client follows to its end: started here (`client.start`) or rejoined after a
 * reload (`client.rejoin`). It holds a subscription on `request:{id}`, so the request's events
 * resume across reconnects like any channel's, and releases it once the request is over.
 */
export interface TrackedRequest {
  readonly requestId: string
  readonly result: Promise<unknown>
  readonly done: boolean
  /** Settles `result` from a terminal event or state; false when `event` is not terminal. */
  settleFrom(outcome: RequestOutcome | undefined): boolean
  fail(error: AgentwireError): void
}

export type RequestOutcome = { ok: true; result: unknown } | { ok: false; error: AgentwireError }

/** The end of a request, if `event` is one. */
export function outcomeOfEvent(event: AgentEvent): RequestOutcome | undefined {
  switch (event.type) {
    case 'request.completed':
      return { ok: true, result: event.payload.result }
    case 'request.error':
      return { ok: false, error: new AgentwireError(ERROR_REQUEST_FAILED, event.payload.agent ? `${event.payload.agent}: ${event.payload.message}` : event.payload.message) }
    case 'request.cancelled':
      return { ok: false, error: new AgentwireError(ERROR_CANCELLED, event.payload.reason ? `the request was cancelled: ${event.payload.reason}` : 'the request was cancelled') }
    default:
      return undefined
  }
}

/** The end of a request, if its state (from a snapshot) says it is over. */
export function outcomeOfView(view: RequestView | undefined): RequestOutcome | undefined {
  if (!view) return undefined
  switch (view.status) {
    case 'completed':
      return { ok: true, result: view.result }
    case 'failed':
      return { ok: false, error: new AgentwireError(ERROR_REQUEST_FAILED, view.error?.message ?? 'the request failed') }
    case 'cancelled':
      return { ok: false, error: new AgentwireError(ERROR_CANCELLED, 'the request was cancelled') }
    default:
      return undefined
  }
}

/** The requestId of a request lifecycle event, if it has one. */
export function requestIdOf(event: AgentEvent): string | undefined {
  const payload = event.payload as { requestId?: unknown }
  return event.type.startsWith('request.') || event.type === 'step.progress' || event.type === 'agent.completed'
    ? typeof payload.requestId === 'string'
      ? payload.requestId
      : undefined
    : undefined
}

export function trackRequest(requestId: string, subscription: Subscription, onDone: (tracked: TrackedRequest) => void): TrackedRequest {
  let resolve!: (value: unknown) => void
  let reject!: (error: AgentwireError) => void
  const result = new Promise<unknown>((res, rej) => {
    resolve = res
    reject = rej
  })
  // `run.result` is there to be awaited, not required to be: an unawaited failure is not an unhandled rejection.
  result.catch(() => {})
  let done = false
  const finish = () => {
    done = true
    subscription.unsubscribe()
    onDone(tracked)
  }
  const tracked: TrackedRequest = {
    requestId,
    result,
    get done() {
      return done
    },
    settleFrom(outcome) {
      if (done || outcome === undefined) return false
      finish()
      if (outcome.ok) resolve(outcome.result)
      else reject(outcome.error)
      return true
    },
    fail(error) {
      if (done) return
      finish()
      reject(error)
    },
  }
  return tracked
}
