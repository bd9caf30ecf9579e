/** A token bucket: `burst` frames at once, refilled at `perSecond`. Time comes from the caller, so tests need no timers. */
export interface TokenBucket {
  /** Takes one token if there is one. */
  take(now: number): boolean
}

export function createTokenBucket(perSecond: number, burst: number, now: number): TokenBucket {
  let tokens = burst
  let last = now
  return {
    take(at: number): boolean {
      if (at > last) {
        tokens = Math.min(burst, tokens + ((at - last) * perSecond) / 1000)
        last = at
      }
      if (tokens < 1) return false
      tokens -= 1
      return true
    },
  }
}
