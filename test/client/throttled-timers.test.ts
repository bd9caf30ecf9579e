import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CloseCode } from 'agentwire/protocol'
import { H, T, fakeEnvironment, settle, setup, until } from './support/setup'

// A background tab runs its timers late (Chrome: once a minute), and browser JS never sees the
// gateway's WebSocket-level pings: a quiet healthy link and a dead one look the same until a
// ping of the client's own goes unanswered.

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

const closedDead = (states: { reason?: { code?: number } }[]) => states.some((s) => s.reason?.code === CloseCode.HeartbeatTimeout)

describe('ping first (hole 3: a false dead link in a throttled tab)', () => {
  it('a heartbeat tick that fires 60 s late on a quiet healthy link sends a ping and keeps the link', async () => {
    const { gateway, client, states } = setup()
    client.subscribe('agent:a')
    await settle()
    const first = gateway.current!
    vi.setSystemTime(Date.now() + 60_000) // throttled: the tick due long ago fires once, now
    await vi.advanceTimersToNextTimerAsync()
    expect(client.state).toBe('open')
    await settle(5) // mock-socket's hop to the gateway
    expect(gateway.framesOf('ping', first)).toHaveLength(1)
    await settle(2 * T)
    expect(client.state).toBe('open')
    expect(closedDead(states)).toBe(false)
    expect(gateway.connections).toHaveLength(1)
    client.close()
  })

  it('on a dead link the late tick pings, and 4440 comes only T after that ping went unanswered', async () => {
    const { gateway, client, states } = setup()
    client.subscribe('agent:a')
    await settle()
    const first = gateway.current!
    gateway.silence()
    const sentBefore = client.stats.framesOut
    vi.setSystemTime(Date.now() + 60_000)
    await vi.advanceTimersToNextTimerAsync()
    const pingedAt = Date.now()
    // The black hole records nothing: what went out is the client's count, one ping.
    expect(client.stats.framesOut).toBe(sentBefore + 1)
    expect(first.open).toBe(true)
    expect(client.state).toBe('open')
    await vi.advanceTimersByTimeAsync(T - 5)
    expect(client.state).toBe('open')
    await until(() => client.state !== 'open', 10 * T, 1)
    expect(Date.now() - pingedAt).toBeGreaterThanOrEqual(T)
    expect(states.at(-1)).toMatchObject({ current: 'reconnecting', reason: { code: CloseCode.HeartbeatTimeout } })
    gateway.silence(false)
    await until(() => client.state === 'open')
    client.close()
  })

  it('the first send after a 10-minute sleep pings first and goes out on the live link: nothing is closed', async () => {
    const { gateway, client, states } = setup()
    client.subscribe('agent:a')
    await settle()
    const first = gateway.current!
    vi.setSystemTime(Date.now() + 10 * 60_000) // slept: wall time jumped, no timer ran
    const cancelled = client.cancel('req-1', 'user left')
    expect(client.state).toBe('open')
    await settle(5)
    const types = first.frames.map((f) => f.type)
    expect(types.lastIndexOf('ping')).toBeGreaterThanOrEqual(0)
    expect(types.lastIndexOf('ping')).toBeLessThan(types.lastIndexOf('cancel'))
    await settle()
    await expect(cancelled).resolves.toBeUndefined()
    expect(closedDead(states)).toBe(false)
    expect(gateway.appliedCommands.filter((f) => f.type === 'cancel')).toHaveLength(1)
    client.close()
  })

  it('stalls of every length on a healthy link: each one past H is met with a ping, none closes the link', async () => {
    const { gateway, client, states } = setup()
    client.subscribe('agent:a')
    await settle()
    const first = gateway.current!
    const stalls = [T / 2, T, 3 * T, 60_000, 600_000]
    for (const stall of stalls) {
      vi.setSystemTime(Date.now() + stall)
      await vi.advanceTimersToNextTimerAsync()
      await settle(5)
    }
    expect(gateway.framesOf('ping', first).length).toBeGreaterThanOrEqual(stalls.filter((s) => s >= H).length)
    expect(closedDead(states)).toBe(false)
    expect(client.state).toBe('open')
    expect(gateway.connections).toHaveLength(1)
    client.close()
  })

  it('a wake after a long silence sends one ping, not two', async () => {
    const env = fakeEnvironment()
    const { gateway, client, states } = setup({ environment: env })
    client.subscribe('agent:a')
    await settle()
    const first = gateway.current!
    vi.setSystemTime(Date.now() + 60_000)
    env.fire('visibilitychange')
    await settle(5)
    expect(gateway.framesOf('ping', first)).toHaveLength(1)
    expect(client.state).toBe('open')
    expect(closedDead(states)).toBe(false)
    client.close()
  })
})
