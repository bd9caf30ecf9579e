import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CloseCode } from 'agentwire/protocol'
import { transition, type ConnectionState, type MachineContext } from '../../src/client/machine'
import { C, settle, setup, until } from './support/setup'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('a limit close (hole 5: the eleventh tab)', () => {
  it('4430 on every hello: each retry waits the longest delay and the state reason says why, instead of retrying every few hundred ms', async () => {
    const { gateway, client, states } = setup(
      {},
      {
        onFrame: (frame, connection) => {
          if (frame.type !== 'hello') return
          connection.close(CloseCode.TooManyConnections, 'too many connections for this principal')
          return false
        },
      },
    )
    await until(() => gateway.connections.length === 1)
    const opened: number[] = [Date.now()]
    let seen = 1
    for (let t = 0; t < 5 * C; t += 5) {
      await vi.advanceTimersByTimeAsync(5)
      if (gateway.connections.length > seen) {
        seen = gateway.connections.length
        opened.push(Date.now())
      }
    }
    // 5 C of a refusing gateway: one connection per C at most (with the policy's B = 50 ms it was ~20).
    expect(gateway.connections.length).toBeLessThanOrEqual(6)
    expect(gateway.connections.length).toBeGreaterThanOrEqual(4)
    for (let i = 1; i < opened.length; i++) expect(opened[i]! - opened[i - 1]!).toBeGreaterThanOrEqual(C)
    const limited = states.filter((s) => s.current === 'reconnecting')
    expect(limited.length).toBeGreaterThan(0)
    for (const s of limited) {
      expect(s.reason?.code).toBe(CloseCode.TooManyConnections)
      expect(s.reason?.message).toMatch(/limit/)
      expect(s.reason?.message).toContain(`${C} ms`)
    }
    client.close()
    await settle()
  })

  it('the machine waits maxDelayMs after 4430 and 4429, whatever the attempt; other retryable closes keep the backoff', () => {
    const ctx: MachineContext = {
      now: 100_000,
      handshake: true,
      maxRetries: Number.POSITIVE_INFINITY,
      stableAfterMs: 5_000,
      tokenRefreshable: false,
      delay: (attempt) => 100 * attempt,
      limitDelayMs: 30_000,
    }
    const connecting: ConnectionState = { status: 'connecting', generation: 1, attempt: 0, phase: 'handshake', authRetry: false }
    const delayAfter = (code: number) => {
      const { state, effects } = transition(connecting, { type: 'socketClosed', generation: 1, code, reason: '' }, ctx)
      expect(state.status).toBe('reconnecting')
      const retry = effects.find((e) => e.type === 'scheduleRetry')
      return retry?.type === 'scheduleRetry' ? retry.delayMs : undefined
    }
    expect(delayAfter(CloseCode.TooManyConnections)).toBe(30_000)
    expect(delayAfter(CloseCode.RateLimited)).toBe(30_000)
    expect(delayAfter(CloseCode.Abnormal)).toBe(100)
    expect(delayAfter(CloseCode.ServiceRestart)).toBe(100)
  })
})
