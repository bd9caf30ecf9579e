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
 */
export function backoffEnvelope(attempt: number, policy: BackoffPolicy): number {
  const step = Number.isFinite(attempt) ? Math.min(Math.max(1, Math.floor(attempt)), MAX_BACKOFF_STEP) : MAX_BACKOFF_STEP
  const raw = policy.initialDelayMs * policy.factor ** step
  return Number.isFinite(raw) ? Math.min(policy.maxDelayMs, raw) : policy.maxDelayMs
}

/**
 * Full-jitter backoff: a delay drawn uniformly from `[initialDelayMs, envelope(attempt)]`, so a
 * crowd of clients dropped at once spreads its reconnects instead of stampeding. Always within
 * `[initialDelayMs, maxDelayMs]`: never 0, negative or NaN, whatever `attempt` or `random` give.
 *
 * @param attempt 1 for the first retry after a failure, growing by one per failure.
 * @param random a source in [0, 1); `Math.random` by default, injected by tests.
 */
export function backoffDelay(attempt: number, options: ReconnectOptions | BackoffPolicy = {}, random: () => number = Math.random): number {
  const policy = isPolicy(options) ? options : backoffPolicy(options)
  const envelope = backoffEnvelope(attempt, policy)
  if (!policy.jitter) return envelope
  let r = random()
  if (!(r >= 0)) r = 0 // NaN or negative
  if (r > 1) r = 1
  const delay = policy.initialDelayMs + r * (envelope - policy.initialDelayMs)
  return Math.min(policy.maxDelayMs, Math.max(policy.initialDelayMs, delay))
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
