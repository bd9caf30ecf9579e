import type { ServerClock } from './clock'

/** What a heartbeat needs from its connection, passed on each tick rather than kept. */
export interface HeartbeatPeer {
  /** Sends a transport ping. */
  sendPing(): void
  /** Whether the connection is already closed: a verdict then has nothing to do. */
  isClosed(): boolean
  /** The ping went unanswered: the peer is dead. */
  dead(): void
}

export interface HeartbeatTiming {
  readonly clock: ServerClock
  readonly heartbeatMs: number
  readonly heartbeatTimeoutMs: number
}

/**
 * One connection's liveness: a transport ping when the peer has been quiet for the interval,
 * and a verdict when that ping goes unanswered for the timeout. Anything received counts as an
 * answer. Three fields per connection; the gateway's sweep drives it (no timer of its own).
 */
export class Heartbeat {
  private lastSeen: number
  private pingSentAt: number | undefined = undefined
  /** A verdict is due on the next turn of the loop (see `tick`). */
  private judging = false

  constructor(now: number) {
    this.lastSeen = now
  }

  /** Something arrived from the peer (a frame or a pong) at `now`. */
  seen(now: number): void {
    this.lastSeen = now
  }

  /** The gateway's sweep: ping when idle, judge when a ping went unanswered. */
  tick(now: number, timing: HeartbeatTiming, peer: HeartbeatPeer): void {
    const sentAt = this.pingSentAt
    if (sentAt !== undefined && this.lastSeen < sentAt) {
      if (now - sentAt >= timing.heartbeatTimeoutMs && !this.judging) {
        // Judged on the next turn of the event loop, once the input waiting now has been read:
        // after the gateway itself stalled past the timeout (a GC pause, a burst, a starved
        // CPU), timers run before I/O, and a pong sitting in the socket would otherwise be
        // taken for silence: every connection dropped at once, for the gateway's own pause.
        this.judging = true
        timing.clock.setTimeout(() => {
          this.judging = false
          if (peer.isClosed() || this.pingSentAt !== sentAt || this.lastSeen >= sentAt) return
          peer.dead()
        }, 0)
      }
      return
    }
    if (now - this.lastSeen >= timing.heartbeatMs) {
      this.pingSentAt = now
      peer.sendPing()
    }
  }
}
