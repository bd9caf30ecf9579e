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

/** The time by which a frame must have come, or the link is dead. */
export function livenessDeadline(state: LivenessState, policy: HeartbeatPolicy): number {
  const regular = state.lastReceived + policy.intervalMs + policy.timeoutMs
  // A probe (after a wake or `online`) asks for an answer within timeoutMs of itself.
  return state.pingSentAt === undefined ? regular : Math.min(regular, state.pingSentAt + policy.timeoutMs)
}

/** Pure: what to do at `now`. */
export function checkLiveness(now: number, state: LivenessState, policy: HeartbeatPolicy): LivenessVerdict {
  const deadline = livenessDeadline(state, policy)
  if (now >= deadline) return { verdict: 'dead', silentMs: now - state.lastReceived }
  if (state.pingSentAt === undefined && now >= state.lastReceived + policy.intervalMs) {
    return { verdict: 'ping', nextCheckAt: Math.min(deadline, now + policy.timeoutMs) }
  }
  const nextCheckAt = state.pingSentAt === undefined ? Math.min(deadline, state.lastReceived + policy.intervalMs) : deadline
  return { verdict: 'ok', nextCheckAt }
}
