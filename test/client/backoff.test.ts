import { describe, expect, it } from 'vitest'
import { backoffDelay, backoffEnvelope, backoffPolicy, MAX_BACKOFF_STEP } from '../../src/client/backoff'

// A seeded generator: the properties must hold for any draws, and a failure must replay.
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('backoff', () => {
  it('N4: defaults are 500 ms to 30 s, factor 2, unlimited retries', () => {
    expect(backoffPolicy()).toMatchObject({ initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, jitter: true, maxRetries: Number.POSITIVE_INFINITY })
  })

  it('N4: over 10,000 attempts every delay is within [B, C], never 0, negative or NaN', () => {
    const random = mulberry32(1)
    for (const options of [{}, { initialDelayMs: 50, maxDelayMs: 1000 }, { initialDelayMs: 1, maxDelayMs: 5000, factor: 10 }]) {
      const p = backoffPolicy(options)
      for (let attempt = 1; attempt <= 10_000; attempt++) {
        const d = backoffDelay(attempt, p, random)
        expect(Number.isFinite(d)).toBe(true)
        expect(d).toBeGreaterThanOrEqual(p.initialDelayMs)
        expect(d).toBeLessThanOrEqual(p.maxDelayMs)
        expect(d).toBeGreaterThan(0)
      }
    }
  })

  it('N4: stays in bounds for absurd attempts and random sources', () => {
    const p = backoffPolicy({ initialDelayMs: 50, maxDelayMs: 1000 })
    for (const attempt of [0, -1, NaN, Infinity, -Infinity, 1e308, 2 ** 53, 1014, 1015]) {
      for (const r of [0, 0.999999, 1, 2, -1, NaN]) {
        const d = backoffDelay(attempt, p, () => r)
        expect(d).toBeGreaterThanOrEqual(50)
        expect(d).toBeLessThanOrEqual(1000)
      }
    }
  })

  it('N4: the envelope is non-decreasing until the cap and the exponent is capped', () => {
    const p = backoffPolicy({ initialDelayMs: 50, maxDelayMs: 1000 })
    let previous = 0
    for (let attempt = 1; attempt <= 10_000; attempt++) {
      const e = backoffEnvelope(attempt, p)
      expect(e).toBeGreaterThanOrEqual(previous)
      previous = e
    }
    expect(backoffEnvelope(1, p)).toBe(100) // first retry within 2B
    expect(backoffEnvelope(10_000, p)).toBe(1000)
    expect(MAX_BACKOFF_STEP).toBeLessThanOrEqual(31)
  })

  it('N4: jitter spreads 100 clients: coefficient of variation of delays >= 0.2', () => {
    const p = backoffPolicy({ initialDelayMs: 50, maxDelayMs: 1000 })
    for (const attempt of [1, 3, 5, 20, 10_000]) {
      const delays = Array.from({ length: 100 }, (_, i) => backoffDelay(attempt, p, mulberry32(1000 + i * 7919 + attempt)))
      const mean = delays.reduce((a, b) => a + b, 0) / delays.length
      const sd = Math.sqrt(delays.reduce((a, b) => a + (b - mean) ** 2, 0) / delays.length)
      expect(sd / mean).toBeGreaterThanOrEqual(0.2)
    }
  })

  it('without jitter the delay is the envelope', () => {
    const p = backoffPolicy({ initialDelayMs: 100, maxDelayMs: 1000, jitter: false })
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, p))).toEqual([200, 400, 800, 1000, 1000])
  })

  it('clamps nonsense options to something that works', () => {
    const p = backoffPolicy({ initialDelayMs: -5, maxDelayMs: NaN, factor: 0.1, maxRetries: -3, stableAfterMs: -1 })
    expect(p).toMatchObject({ initialDelayMs: 1, maxDelayMs: 30_000, factor: 1, maxRetries: 0, stableAfterMs: 0 })
  })
})
