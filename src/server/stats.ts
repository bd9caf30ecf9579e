/** Why the gateway dropped a connection or a frame; the keys of `stats().drops`. */
export type DropCause =
  | 'bad_frame'
  | 'auth_timeout'
  | 'unauthorized'
  | 'unsupported_protocol'
  | 'duplicate_hello'
  | 'rate_limited'
  | 'too_many_connections'
  | 'pending_handshakes'
  | 'slow_consumer'
  | 'heartbeat_timeout'
  | 'token_expired'
  | 'revoked'
  | 'origin'
  | 'message_too_big'
  | 'overloaded'

export interface GatewayStats {
  /** Open connections that completed `hello`. */
  readonly connections: number
  /** Connections still before their `welcome`. */
  readonly pendingHandshakes: number
  /** Subscriptions per channel or pattern (connections holding it), and their total. */
  readonly subscriptions: { readonly total: number; readonly channels: Readonly<Record<string, number>> }
  /** Frames received and sent: totals, and per second over the last few seconds. */
  readonly framesIn: { readonly total: number; readonly perSecond: number }
  readonly framesOut: { readonly total: number; readonly perSecond: number }
  /** Events published through this gateway or received from the broker. */
  readonly events: number
  /** Connections closed or frames refused, by cause. */
  readonly drops: Readonly<Partial<Record<DropCause, number>>>
  readonly uptimeMs: number
  readonly broker: string
}

/** Counts with a small rolling window of one-second buckets, read by `GET /stats`. */
export interface RateCounter {
  add(now: number, n?: number): void
  readonly total: number
  /** Average per second over the finished buckets of the window. */
  perSecond(now: number): number
}

export function createRateCounter(windowSeconds = 5): RateCounter {
  const buckets = new Array<number>(windowSeconds + 1).fill(0)
  let current = -1
  let total = 0
  const advance = (now: number) => {
    const second = Math.floor(now / 1000)
    if (current === -1) current = second
    if (second <= current) return
    // Clear every bucket skipped since the last add.
    for (let s = current + 1; s <= Math.min(second, current + buckets.length); s++) buckets[s % buckets.length] = 0
    current = second
  }
  return {
    add(now, n = 1) {
      advance(now)
      buckets[current % buckets.length]! += n
      total += n
    },
    get total() {
      return total
    },
    perSecond(now) {
      advance(now)
      let sum = 0
      for (let i = 0; i < buckets.length; i++) if (i !== current % buckets.length) sum += buckets[i]!
      return sum / (buckets.length - 1)
    },
  }
}
