/**
 * A token bucket: `burst` frames at once, refilled at `perSecond`. Time and rates come from the
 * caller (tests need no timers, and a connection keeps two numbers, not its limits).
 */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor(burst: number, now: number) {
    this.tokens = burst
    this.last = now
  }

  /** Takes one token if there is one. */
  take(now: number, perSecond: number, burst: number): boolean {
    if (now > this.last) {
      this.tokens = Math.min(burst, this.tokens + ((now - this.last) * perSecond) / 1000)
      this.last = now
    }
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}
