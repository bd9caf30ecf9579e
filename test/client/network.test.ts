import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'mock-socket'
import { createClient, type StateChange, type WebSocketConstructor } from 'agentwire'
import { agentStatus, createFakeGateway, fakeUrl } from './support/fake-gateway'
import { B, C, H, T, settle, setup, until } from './support/setup'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('network faults', () => {
  it('N1: a 1012 close mid-stream reconnects, subscribes each channel exactly once, and loses or repeats nothing', async () => {
    const { gateway, client, states } = setup()
    const channels = ['agent:a', 'agent:b']
    for (const ch of channels) client.subscribe(ch)
    const seen: string[] = []
    client.on('event', (_e, ctx) => seen.push(`${ctx.channel}#${ctx.seq}`))
    await settle()
    const published: string[] = []
    const publish = (ch: string) => published.push(`${ch}#${gateway.publish(ch, agentStatus(ch.slice(6)))}`)
    for (let i = 0; i < 5; i++) for (const ch of channels) publish(ch)
    await settle(2000) // stays open long enough to count as stable

    const first = gateway.current!
    first.close(1012, 'service restart')
    await settle(5)
    const closedAt = Date.now()
    expect(client.state).toBe('reconnecting')
    // Published while the client is away: must come back by replay.
    for (let i = 0; i < 3; i++) for (const ch of channels) publish(ch)
    await until(() => gateway.connections.length === 2)
    expect(Date.now() - closedAt).toBeLessThanOrEqual(2 * B + 50)
    await until(() => client.state === 'open')
    for (let i = 0; i < 2; i++) for (const ch of channels) publish(ch)
    await settle()

    const second = gateway.current!
    expect(gateway.subscribedChannels(second).sort()).toEqual(channels)
    expect(seen).toHaveLength(published.length)
    for (const ch of channels) {
      expect(seen.filter((s) => s.startsWith(ch))).toEqual(published.filter((s) => s.startsWith(ch)))
    }
    // ('connecting' was emitted inside createClient, before this listener existed.)
    expect(states.map((s) => s.current)).toEqual(['open', 'reconnecting', 'connecting', 'open'])
    expect(states[1]?.reason?.code).toBe(1012)
    client.close()
  })

  it('N2: an abnormal close (1006) is retried, never taken for a user close', async () => {
    const { gateway, client, states } = setup()
    client.subscribe('agent:a')
    await settle()
    gateway.current!.close(1006)
    await until(() => client.state === 'open' && gateway.connections.length === 2)
    expect(states.find((s) => s.current === 'reconnecting')?.reason?.code).toBe(1006)
    expect(client.stats.reconnects).toBe(1)
    client.close()
  })

  it('N3: a silent link is declared dead at H+T after the last frame, closed with 4440, and resumed', async () => {
    const { gateway, client, states } = setup()
    client.subscribe('agent:a')
    const seen: number[] = []
    client.on('agent.status', (_e, ctx) => seen.push(ctx.seq!))
    await settle()
    gateway.publish('agent:a', agentStatus('a')) // mock-socket delivers server frames synchronously
    const lastByte = Date.now()
    gateway.silence()
    const sentBefore = client.stats.framesOut
    gateway.publish('agent:a', agentStatus('a', 'available')) // lost in the black hole
    await until(() => client.state !== 'open', 10 * (H + T), 1)
    const detected = Date.now() - lastByte
    expect(detected).toBeGreaterThanOrEqual(H + T)
    expect(detected).toBeLessThanOrEqual((H + T) * 1.1 + 50)
    expect(states.at(-1)).toMatchObject({ current: 'reconnecting', reason: { code: 4440 } })
    // A ping went out after H of silence (into the black hole).
    expect(client.stats.framesOut).toBe(sentBefore + 1)
    gateway.silence(false)
    await until(() => client.state === 'open')
    await settle()
    expect(seen).toEqual([1, 2])
    client.close()
  })

  it('N3: after the client itself stalled past H+T, a frame already waiting in the socket counts: the verdict waits one turn of the loop', async () => {
    const { gateway, client, states } = setup()
    client.subscribe('agent:a')
    await settle()
    gateway.publish('agent:a', agentStatus('a'))
    // The process stands still for 3(H+T) (a GC pause, a starved CPU): the wall clock moves and
    // no timer runs. Timers fire before I/O, so the heartbeat check comes first...
    vi.setSystemTime(Date.now() + 3 * (H + T))
    vi.advanceTimersToNextTimer()
    expect(client.state).toBe('open')
    // ...then the frame that arrived during the stall is read...
    gateway.publish('agent:a', agentStatus('a', 'available'))
    // ...and the verdict, on the next turn, finds the link alive.
    vi.advanceTimersToNextTimer()
    expect(client.state).toBe('open')
    expect(states.some((s) => s.reason?.code === 4440)).toBe(false)
    // With the link dead, the same stall is met with a ping, and the link is judged T after it.
    gateway.silence()
    vi.setSystemTime(Date.now() + 3 * (H + T))
    vi.advanceTimersToNextTimer()
    const pingedAt = Date.now()
    expect(client.state).toBe('open')
    await until(() => client.state !== 'open', 10 * (H + T), 1)
    expect(Date.now() - pingedAt).toBeGreaterThanOrEqual(T)
    expect(states.at(-1)).toMatchObject({ current: 'reconnecting', reason: { code: 4440 } })
    client.close()
  })

  it('N4: 10,000 refused connections: every delay within [B, C], never 0 or NaN, jittered; reconnects within C + 100 ms when the gateway returns', async () => {
    const url = fakeUrl()
    const changes: { change: StateChange; at: number }[] = []
    const client = createClient({
      url,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      environment: null,
      reconnect: { initialDelayMs: B, maxDelayMs: C },
      heartbeat: { intervalMs: H, timeoutMs: T },
    })
    client.on('state', (change) => changes.push({ change, at: Date.now() }))
    const delays: number[] = []
    let reconnectingAt = 0
    client.on('state', (change) => {
      if (change.current === 'reconnecting') reconnectingAt = Date.now()
      if (change.current === 'connecting' && change.previous === 'reconnecting') delays.push(Date.now() - reconnectingAt)
    })
    while (delays.length < 10_000) await vi.advanceTimersToNextTimerAsync()
    for (const d of delays) {
      expect(Number.isFinite(d)).toBe(true)
      expect(d).toBeGreaterThanOrEqual(B)
      expect(d).toBeLessThanOrEqual(C)
    }
    const atCap = delays.slice(-1000)
    const mean = atCap.reduce((a, b) => a + b, 0) / atCap.length
    const sd = Math.sqrt(atCap.reduce((a, b) => a + (b - mean) ** 2, 0) / atCap.length)
    expect(sd / mean).toBeGreaterThanOrEqual(0.2)
    expect(client.state === 'reconnecting' || client.state === 'connecting').toBe(true)

    await until(() => client.state === 'reconnecting', 2 * C, 1)
    const back = Date.now()
    const gateway = createFakeGateway({ url })
    await until(() => client.state === 'open', 2 * C, 1)
    expect(Date.now() - back).toBeLessThanOrEqual(C + 100)
    client.close()
    gateway.stop()
  })

  it('N7: no welcome: the attempt is aborted at the connect timeout (4441), then normal backoff, never stuck in connecting', async () => {
    const { gateway, client, states } = setup({ connectTimeoutMs: 1000 }, { withholdWelcome: true })
    const start = Date.now()
    await until(() => client.state === 'reconnecting', 5000, 1)
    expect(Date.now() - start).toBeGreaterThanOrEqual(1000)
    expect(Date.now() - start).toBeLessThanOrEqual(1100)
    expect(states.at(-1)).toMatchObject({ current: 'reconnecting', reason: { code: 4441 } })
    await settle()
    expect(gateway.openConnections).toHaveLength(0) // the stalled socket was closed
    gateway.set({ withholdWelcome: false })
    await until(() => client.state === 'open')
    expect(gateway.openConnections).toHaveLength(1)
    client.close()
  })
})
