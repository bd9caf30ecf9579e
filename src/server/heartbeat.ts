import type { ServerClock } from './clock'

/**
 * One connection's liveness: a transport ping when the peer has been quiet for `intervalMs`,
 * and a verdict when that ping goes unanswered for `timeoutMs`. Anything received counts as
 * an answer.
 */
export interface Heartbeat {
  /** Something arrived from the peer (a frame or a pong) at `now`. */
  seen(now: number): void
  /** The gateway's sweep: ping when idle, judge when a ping went unanswered. */
  tick(now: number): void
}

export interface HeartbeatOptions {
  clock: ServerClock
  intervalMs: number
  timeoutMs: number
  ping(): void
  /** Whether the connection is already closed: a verdict then has nothing to do. */
  isClosed(): boolean
  /** The ping went unanswered: the peer is dead. */
  dead(): void
}

export function createHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { clock } = options
  let lastSeen = clock.now()
  let pingSentAt: number | undefined
  /** A verdict is due on the next turn of the loop (see `tick`). */
  let judging = false
  return {
    seen(now) {
      lastSeen = now
    },
    tick(now) {
      if (pingSentAt !== undefined && lastSeen < pingSentAt) {
        if (now - pingSentAt >= options.timeoutMs && !judging) {
          // Judged on the next turn of the event loop, once the input waiting now has been read:
          // after the gateway itself stalled past the timeout (a GC pause, a burst, a starved
          // CPU), timers run before I/O, and a pong sitting in the socket would otherwise be
          // taken for silence: every connection dropped at once, for the gateway's own pause.
          judging = true
          const sentAt = pingSentAt
          clock.setTimeout(() => {
            judging = false
            if (options.isClosed() || pingSentAt !== sentAt || lastSeen >= sentAt) return
            options.dead()
          }, 0)
        }
        return
      }
      if (now - lastSeen >= options.intervalMs) {
        pingSentAt = now
        options.ping()
      }
    },
  }
}
