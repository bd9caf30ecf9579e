import type { HeartbeatOptions } from './types'

/**
 * Liveness judged by wall-clock deadlines, not by timers firing: a laptop that slept or a
 * throttled background tab runs its timers late or not at all, so every tick and every send
 * compares `clock.now()` with the deadline, and the first one after a wake notices a dead link.
 */
export interface HeartbeatPolicy {
  readonly intervalMs: number
  readonly timeoutMs: number
}

export const DEFAULT_HEARTBEAT: HeartbeatPolicy = Object.freeze({ intervalMs: 25_000, timeoutMs: 10_000 })

export function heartbeatPolicy(options: HeartbeatOptions = {}): HeartbeatPolicy {
  const pick = (v: number | undefined, d: number) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : d)
  return { intervalMs: pick(options.intervalMs, DEFAULT_HEARTBEAT.intervalMs), timeoutMs: pick(options.timeoutMs, DEFAULT_HEARTBEAT.timeoutMs) }
}

/** What the client remembers about the link. */
export interface LivenessState {
  /** Clock time of the last frame received. */
  readonly lastReceived: number
  /** Clock time of a ping sent since then and not yet answered by any frame. */
  readonly pingSentAt: number | undefined
}

export type LivenessVerdict =
  /** Nothing came in time: the link is dead. */
  | { readonly verdict: 'dead'; readonly silentMs: number }
  /** Quiet for a whole interval: send a ping, check again at `nextCheckAt`. */
  | { readonly verdict: 'ping'; readonly nextCheckAt: number }
  | { readonly verdict: 'ok'; readonly nextCheckAt: number }

/**
 * The time by which a frame must have come, or the link is dead: `timeoutMs` after a ping
 * still unanswered. Before the client has pinged there is no such time: silence alone never
 * condemns a link (see {@link checkLiveness}).
 */
export function livenessDeadline(state: LivenessState, policy: HeartbeatPolicy): number {
  return state.pingSentAt === undefined ? Number.POSITIVE_INFINITY : state.pingSentAt + policy.timeoutMs
}

/**
 * Pure: what to do at `now`. Ping after `intervalMs` of silence; dead only when that ping went
 * unanswered for `timeoutMs`. However late the check comes (a background tab runs its timers
 * once a minute, a laptop slept), it pings first: browser JS never sees the gateway's
 * WebSocket-level pings, so a quiet healthy link looks dead until a ping of ours is answered.
 */
export function checkLiveness(now: number, state: LivenessState, policy: HeartbeatPolicy): LivenessVerdict {
  if (state.pingSentAt === undefined) {
    const pingAt = state.lastReceived + policy.intervalMs
    return now >= pingAt ? { verdict: 'ping', nextCheckAt: now + policy.timeoutMs } : { verdict: 'ok', nextCheckAt: pingAt }
  }
  const deadline = state.pingSentAt + policy.timeoutMs
  return now >= deadline ? { verdict: 'dead', silentMs: now - state.lastReceived } : { verdict: 'ok', nextCheckAt: deadline }
}
