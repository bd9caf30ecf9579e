import { AgentwireError } from 'agentwire/protocol'
import { ERROR_OUTBOX_FULL } from '../protocol/code-values'
import { createRequest, type CommandFrame, type PendingRequest } from './request'
import type { Clock } from './types'

/**
 * Commands in flight, in the order they were made. While the connection is down they wait
 * here (at most `capacity` of them unsent; one more is refused with `outbox_full` rather than
 * growing without bound), and when it is ready again every one not sent on the new connection
 * goes out in order: those whose reply was lost with the old connection first (same id, so the
 * gateway applies them once), then those made while disconnected.
 */
export interface Outbox {
  /** Adds a command; throws `outbox_full` when too many are already waiting to be sent. */
  /** Adds a command (`timeoutMs`: its own reply timeout); throws `outbox_full` when too many are already waiting to be sent. */
  add(frame: CommandFrame, timeoutMs?: number): PendingRequest
  get(id: string): PendingRequest | undefined
  /** Commands not yet sent on connection `generation`, oldest first. */
  unsentOn(generation: number): PendingRequest[]
  /** Commands sent on the current connection and not answered yet. */
  inFlight(): PendingRequest[]
  /** The connection is gone: every sent command waits to be sent again. */
  connectionLost(): void
  rejectAll(error: AgentwireError): void
  readonly size: number
}

export interface OutboxOptions {
  readonly clock: Clock
  /** @default 100 */
  readonly capacity: number
  /** Reply timeout per command, counted from when it is sent. */
  readonly timeoutMs: number
}

export function createOutbox(options: OutboxOptions): Outbox {
  const requests = new Map<string, PendingRequest>()
  const onSettled = (request: PendingRequest) => {
    requests.delete(request.id)
  }
  return {
    add(frame, timeoutMs) {
      let waiting = 0
      for (const r of requests.values()) if (r.sentOn === 0) waiting++
      if (waiting >= options.capacity) {
        throw new AgentwireError(
          ERROR_OUTBOX_FULL,
          `${waiting} commands are already waiting for the connection (outboxSize ${options.capacity}); "${frame.type}" was not queued`,
        )
      }
      const request = createRequest(frame, { clock: options.clock, timeoutMs: timeoutMs ?? options.timeoutMs, onSettled })
      requests.set(request.id, request)
      return request
    },
    get: (id) => requests.get(id),
    unsentOn(generation) {
      const out: PendingRequest[] = []
      for (const r of requests.values()) if (r.sentOn !== generation) out.push(r)
      return out
    },
    inFlight() {
      return [...requests.values()].filter((r) => r.sentOn !== 0)
    },
    connectionLost() {
      for (const r of requests.values()) r.markUnsent()
    },
    rejectAll(error) {
      for (const r of [...requests.values()]) r.reject(error)
      requests.clear()
    },
    get size() {
      return requests.size
    },
  }
}
