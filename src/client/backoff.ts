import type { ReconnectHint } from 'agentwire/protocol'
import type { ReconnectOptions } from './types'

/** Reconnect options with every default filled in and every value made safe to compute with. */
export interface BackoffPolicy {
  readonly initialDelayMs: number
  readonly maxDelayMs: number
  readonly factor: number
  readonly jitter: boolean
  readonly maxRetries: number
  readonly stableAfterMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: true,
  maxRetries: Number.POSITIVE_INFINITY,
  stableAfterMs: 5_000,
})

/**
 * The exponent is capped so `factor ** step` stays finite for any attempt count: an uncapped
 * `min * 2 ** n` overflows to Infinity after ~1 000 failures, and `Infinity - Infinity` is NaN,
 * which some clients turn into a 0 ms reconnect spin (RELIABILITY.md §1.4).
 */
export const MAX_BACKOFF_STEP = 31

const finiteOr = (value: number | undefined, fallback: number): number =>
  typeof value === 'number' && Number.isFinite(value) ? value : fallback

/** Fills the defaults in and clamps nonsense (negative, NaN, a cap below the base) to something that works. */
export function backoffPolicy(options: ReconnectOptions = {}): BackoffPolicy {
  const initialDelayMs = Math.max(1, finiteOr(options.initialDelayMs, DEFAULT_BACKOFF.initialDelayMs))
  const maxDelayMs = Math.max(initialDelayMs, finiteOr(options.maxDelayMs, DEFAULT_BACKOFF.maxDelayMs))
  const factor = Math.max(1, finiteOr(options.factor, DEFAULT_BACKOFF.factor))
  const retries = options.maxRetries
  const maxRetries = typeof retries === 'number' && !Number.isNaN(retries) ? Math.max(0, retries) : DEFAULT_BACKOFF.maxRetries
  const stableAfterMs = Math.max(0, finiteOr(options.stableAfterMs, DEFAULT_BACKOFF.stableAfterMs))
  return { initialDelayMs, maxDelayMs, factor, jitter: options.jitter ?? DEFAULT_BACKOFF.jitter, maxRetries, stableAfterMs }
}

/**
 * The upper bound of the delay before reconnect attempt `attempt` (1 for the first retry):
 * `initialDelayMs * factor ** attempt`, capped at `maxDelayMs`. Non-decreasing in `attempt`.
 * The delay itself without jitter; with jitter every delay is within it, except the first retry
 * of a wave the gateway asked to spread over a longer window (still at most `maxDelayMs`).
 */
export function backoffEnvelope(attempt: number, policy: BackoffPolicy): number {
  const step = Number.isFinite(attempt) ? Math.min(Math.max(1, Math.floor(attempt)), MAX_BACKOFF_STEP) : MAX_BACKOFF_STEP
  const raw = policy.initialDelayMs * policy.factor ** step
  return Number.isFinite(raw) ? Math.min(policy.maxDelayMs, raw) : policy.maxDelayMs
}

/**
 * At the cap, each delay is `maxDelayMs * (1 - CAP_JITTER * r²)` for r uniform in [0, 1): within
 * [0.3 C, C], weighted toward C (mean 0.77 C, coefficient of variation 0.27). A crowd that has
 * been refused for long reconnects over one C with a peak rate 1.3× its mean (C / mean delay),
 * where uniform [B, C] would give 1.9×, and still with jitter (N4: variation ≥ 0.2).
 */
export const CAP_JITTER = 0.7

/**
 * Highest exponent used for the raw delay: `factor ** 64` of any sane delay is far past any
 * cap, and stays finite for factor 2; larger factors overflow to Infinity, which reads as capped.
 */
const MAX_PHASE_STEP = 64

/** Uniform in [0, 1] whatever the source gives (NaN or negative: 0; above 1: 1). */
function unit(r: number): number {
  if (!(r >= 0)) return 0
  return r > 1 ? 1 : r
}

/**
 * The raw delay before retry `step` of a wave whose clients keep one phase `u` in [0, 1]:
 * retry k comes at `B * f ** (k - 1 + u)` after the wave started (the time a client whose
 * attempts were refused at once reaches it), so the first retry is in [B, B·f] (N1's 2B with
 * the default factor 2) and the k-th in the band [B f^(k-1), B f^k] of the time since the drop.
 *
 * Why one phase for the wave and not a fresh draw per retry: when the gateway comes back at
 * D, each client returns at its next retry after D. With the phase kept, the clients' retry
 * times are log-uniform over time, and the clients return over [D, f·D] at a rate falling as
 * 1/t: the busiest moment is (f - 1) / ln f (1.44 for f = 2) times the wave's mean rate,
 * whatever D is. With a fresh draw per retry (full jitter) the clients on short draws pile up
 * right after D and the stragglers of long draws stretch the wave (S2 measured 2.6–3.5×).
 *
 * A hinted wave (`windowMs` from the gateway's goodbye, wider than B·f) spreads the first
 * retry uniformly over [B, windowMs], then goes on at `windowMs * f ** (k - 2 + u)`.
 */
function rawDelay(step: number, u: number, windowMs: number, hinted: boolean, policy: BackoffPolicy): number {
  const { initialDelayMs: b, factor: f } = policy
  const first = hinted ? b + u * (windowMs - b) : b * (windowMs / b) ** u
  if (step <= 1) return first
  if (step === 2) return windowMs * f ** u - first
  return windowMs * f ** Math.min(step - 3 + u, MAX_PHASE_STEP) * (f - 1)
}

function clampDelay(delay: number, policy: BackoffPolicy): number {
  if (!Number.isFinite(delay)) return policy.maxDelayMs
  return Math.min(policy.maxDelayMs, Math.max(policy.initialDelayMs, delay))
}

/**
 * The delay before retry `step` of a wave with phase `u`: the raw delay clamped to [B, C],
 * until the raw delay has passed C once; from the retry after that, a fresh draw at the cap.
 */
function waveDelay(step: number, u: number, windowMs: number, hinted: boolean, policy: BackoffPolicy, random: () => number): number {
  if (step >= 2 && !(rawDelay(step - 1, u, windowMs, hinted, policy) < policy.maxDelayMs)) {
    const r = unit(random())
    return clampDelay(policy.maxDelayMs * (1 - CAP_JITTER * r * r), policy)
  }
  return clampDelay(rawDelay(step, u, windowMs, hinted, policy), policy)
}

function stepOf(attempt: number): number {
  return Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : Number.MAX_SAFE_INTEGER
}

/**
 * A jittered backoff delay for retry `attempt` with a phase of its own: within `[initialDelayMs,
 * maxDelayMs]`, never 0, negative or NaN, whatever `attempt` or `random` give; within the
 * {@link backoffEnvelope}. Retry k is drawn log-uniformly from [B f^(k-2), B f^(k-1)] (the first
 * from [B, B·f]), and at the cap from [0.3 C, C]. A connection's reconnects use
 * {@link reconnectSchedule}, which keeps the phase across a wave's retries.
 *
 * @param attempt 1 for the first retry after a failure, growing by one per failure.
 * @param random a source in [0, 1); `Math.random` by default, injected by tests.
 */
export function backoffDelay(attempt: number, options: ReconnectOptions | BackoffPolicy = {}, random: () => number = Math.random): number {
  return policyDelay(attempt, isPolicy(options) ? options : backoffPolicy(options), random)
}

/** {@link backoffDelay} for a policy already made (the client's own), with no check of it. */
export function policyDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  if (!policy.jitter) return backoffEnvelope(attempt, policy)
  return waveDelay(stepOf(attempt), unit(random()), policy.initialDelayMs * policy.factor, false, policy, random)
}

/** The reconnect delays of one connection. */
export interface ReconnectSchedule {
  /**
   * The delay before retry `attempt` (1 for the first retry after a stable connection ended).
   * Retry 1 starts a wave: a new phase, or the gateway's slot and window when its close carried
   * a hint (`hint`, see `parseReconnectHint`); later retries of the wave keep them. A hint on a
   * later retry (a connection that did not stay up) is not followed: the backoff goes on growing.
   */
  delay(attempt: number, hint?: ReconnectHint): number
}

/**
 * The reconnect backoff of one connection (see {@link rawDelay} for why a wave keeps one
 * phase). Delays stay within `[initialDelayMs, maxDelayMs]` (N4), including a gateway's
 * window, which is honoured up to `maxDelayMs` only; the first retry of an unhinted wave is
 * within [B, B·factor] (N1).
 */
export function reconnectSchedule(policy: BackoffPolicy, random: () => number = Math.random): ReconnectSchedule {
  const plain = policy.initialDelayMs * policy.factor
  let wave: { start: number; u: number; windowMs: number; hinted: boolean } | undefined
  return {
    delay(attempt, hint) {
      if (!policy.jitter) return backoffEnvelope(attempt, policy)
      const n = stepOf(attempt)
      if (n === 1 || wave === undefined || n < wave.start) {
        const asked = hint !== undefined && Number.isFinite(hint.windowMs) ? Math.min(policy.maxDelayMs, hint.windowMs) : 0
        const hinted = n === 1 && asked > plain
        const slot = n === 1 && hint?.slot !== undefined && hint.slot >= 0 && hint.slot <= 1 ? hint.slot : undefined
        wave = { start: n, u: slot ?? unit(random()), windowMs: hinted ? asked : plain, hinted }
      }
      return waveDelay(n - wave.start + 1, wave.u, wave.windowMs, wave.hinted, policy, random)
    },
  }
}

function isPolicy(options: ReconnectOptions | BackoffPolicy): options is BackoffPolicy {
  return (
    typeof options.initialDelayMs === 'number' &&
    typeof options.maxDelayMs === 'number' &&
    typeof options.factor === 'number' &&
    typeof options.jitter === 'boolean' &&
    typeof options.maxRetries === 'number' &&
    typeof options.stableAfterMs === 'number' &&
    options.initialDelayMs >= 1 &&
    options.maxDelayMs >= options.initialDelayMs &&
    options.factor >= 1
  )
}
