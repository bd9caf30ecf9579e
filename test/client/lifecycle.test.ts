import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AgentwireError, ClientClosedError, ErrorCode } from 'agentwire'
import { agentStatus } from './support/fake-gateway'
import { C, T, fakeEnvironment, settle, setup, until } from './support/setup'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('client lifecycle', () => {
  it('C2: close() while connecting leaves no socket, no timer and no state change after it', async () => {
    const { gateway, client, states } = setup()
    expect(client.state).toBe('connecting')
    client.subscribe('agent:a')
    client.close()
    const after = states.length
    await settle(1000)
    expect(client.state).toBe('closed')
    expect(gateway.openConnections).toHaveLength(0)
    expect(vi.getTimerCount()).toBe(0)
    expect(states.slice(after)).toEqual([])
  })

  it('C2: close() while a subscribe ack is pending: the server drops the subscription with the socket', async () => {
    const { gateway, client } = setup({}, { onFrame: (f) => f.type !== 'subscribe' })
    await settle()
    client.subscribe('agent:a')
    await settle(2)
    client.close()
    await settle(1000)
    expect(gateway.openConnections).toHaveLength(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('C3: connect()/close() ten times synchronously ends as the last call says', async () => {
    const a = setup()
    for (let i = 0; i < 10; i++) {
      a.client.close()
      a.client.connect()
    }
    await settle(1000)
    expect(a.client.state).toBe('open')
    expect(a.gateway.openConnections).toHaveLength(1)
    a.client.close()

    const b = setup()
    for (let i = 0; i < 10; i++) {
      b.client.connect()
      b.client.close()
    }
    await settle(1000)
    expect(b.client.state).toBe('closed')
    expect(b.gateway.openConnections).toHaveLength(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('C3: unsubscribe between the subscribe and its ack leaves the server set equal to the client set', async () => {
    const { gateway, client } = setup()
    client.subscribe('agent:keep')
    await settle()
    const sub = client.subscribe('agent:gone')
    sub.unsubscribe() // the subscribe frame is already on its way
    sub.unsubscribe() // idempotent
    await settle()
    const c = gateway.current!
    expect(gateway.framesOf('subscribe', c).map((f) => f.channels.map((i) => i.channel))).toEqual([['agent:gone']])
    expect(gateway.framesOf('unsubscribe', c).map((f) => f.channels)).toEqual([['agent:gone']])
    expect([...c.subscriptions]).toEqual(['agent:keep'])
    expect(sub.status).toBe('unsubscribed')
    client.close()
  })

  it('C3: a subscribe while reconnecting is sent once on the new connection; the same channel twice is one wire subscription', async () => {
    const { gateway, client } = setup()
    const one = client.subscribe('agent:a')
    const two = client.subscribe('AGENT:a') // canonicalised to the same channel
    await settle()
    expect(gateway.subscribedChannels(gateway.current!)).toEqual(['agent:a'])
    gateway.current!.close(1012)
    await settle(5)
    expect(client.state).toBe('reconnecting')
    client.subscribe('agent:b')
    await until(() => client.state === 'open')
    await settle()
    expect(gateway.subscribedChannels(gateway.current!).sort()).toEqual(['agent:a', 'agent:b'])
    one.unsubscribe()
    await settle()
    expect(gateway.framesOf('unsubscribe', gateway.current!)).toHaveLength(0)
    two.unsubscribe()
    await settle()
    expect(gateway.framesOf('unsubscribe', gateway.current!).map((f) => f.channels)).toEqual([['agent:a']])
    expect(() => client.subscribe('9nope:x')).toThrow(/invalid channel "9nope:x".*Pass a channel such as/)
    client.close()
  })

  it('C4: after a 10-minute sleep (no timers fired) the first send pings first; the link that died in the sleep is closed T later, and the command is re-sent and applied once', async () => {
    const { gateway, client, states } = setup()
    client.subscribe('agent:a')
    await settle()
    gateway.silence() // the link died while the laptop slept
    vi.setSystemTime(Date.now() + 10 * 60_000) // the laptop slept: wall time jumped, timers did not run
    const cancelled = client.cancel('req-1', 'user left')
    expect(client.state).toBe('open') // pinged, not judged yet
    await until(() => client.state === 'reconnecting', 10 * T, 1)
    expect(states.at(-1)?.reason?.code).toBe(4440)
    gateway.silence(false)
    await until(() => client.state === 'open')
    await settle()
    await expect(cancelled).resolves.toBeUndefined()
    expect(gateway.framesOf('cancel')).toHaveLength(1)
    expect(gateway.framesOf('cancel', gateway.connections[0])).toHaveLength(0)
    expect(gateway.appliedCommands.filter((f) => f.type === 'cancel')).toHaveLength(1)
    client.close()
  })

  it('C4: the first heartbeat tick after a sleep pings; a link that died in the sleep is closed T after that ping', async () => {
    const { gateway, client, states } = setup()
    await settle()
    gateway.silence()
    vi.setSystemTime(Date.now() + 10 * 60_000)
    await vi.advanceTimersToNextTimerAsync() // the tick that was due long ago: it pings
    const tickAt = Date.now()
    expect(client.state).toBe('open')
    await until(() => client.state !== 'open', 10 * T, 1)
    expect(Date.now() - tickAt).toBeGreaterThanOrEqual(T)
    expect(states.some((s) => s.current === 'reconnecting' && s.reason?.code === 4440)).toBe(true)
    client.close()
  })

  it('C4: online or visible after an unclean close reconnects at once, skipping the backoff; after close() nothing happens', async () => {
    for (const type of ['online', 'visibilitychange', 'pageshow']) {
      const env = fakeEnvironment()
      const { gateway, client } = setup({ environment: env, reconnect: { initialDelayMs: 10_000, maxDelayMs: 30_000 } })
      await settle()
      gateway.current!.close(1006)
      await settle(5)
      expect(client.state).toBe('reconnecting')
      env.fire(type)
      expect(client.state).toBe('connecting')
      await settle(50)
      expect(client.state).toBe('open')
      expect(gateway.connections).toHaveLength(2)

      client.close()
      expect(env.count()).toBe(0) // every environment listener removed
      env.fire(type)
      await settle(10 * 30_000)
      expect(client.state).toBe('closed')
      expect(gateway.connections).toHaveLength(2)
    }
  })

  it('C4: online/visible while open probes the link with a ping', async () => {
    const env = fakeEnvironment()
    const { gateway, client } = setup({ environment: env })
    await settle()
    env.fire('online')
    await settle(5)
    expect(gateway.framesOf('ping', gateway.current!)).toHaveLength(1)
    expect(client.state).toBe('open')
    client.close()
  })

  it('offline stops the retry loop until online', async () => {
    const env = fakeEnvironment()
    const { gateway, client } = setup({ environment: env })
    await settle()
    env.navigator.onLine = false
    env.fire('offline')
    expect(client.state).toBe('offline')
    await settle(10 * C)
    expect(gateway.connections).toHaveLength(1)
    env.navigator.onLine = true
    env.fire('online')
    await settle()
    expect(client.state).toBe('open')
    expect(gateway.connections).toHaveLength(2)
    client.close()
  })

  it('C5: close() rejects pending commands with ClientClosedError, makes no reconnect in 10×C, sends no heartbeat after', async () => {
    const { gateway, client } = setup({}, { onFrame: (f) => f.type !== 'cancel' }) // the reply never comes
    await settle()
    const pending = client.cancel('req-1')
    await settle()
    const framesBefore = gateway.current!.frames.length
    client.close()
    await expect(pending).rejects.toBeInstanceOf(ClientClosedError)
    await expect(client.cancel('req-2')).rejects.toBeInstanceOf(ClientClosedError)
    await settle(10 * C)
    expect(gateway.connections).toHaveLength(1)
    expect(gateway.current!.frames.length).toBe(framesBefore)
    expect(client.state).toBe('closed')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('connect() after close() reopens with the same subscriptions', async () => {
    const { gateway, client } = setup()
    client.subscribe('agent:a')
    await settle()
    client.close()
    client.connect()
    await until(() => client.state === 'open')
    await settle()
    expect(gateway.subscribedChannels(gateway.current!)).toEqual(['agent:a'])
    client.close()
  })

  it('C6: commands made while disconnected are flushed in order after reconnect; overflow is refused with outbox_full', async () => {
    const { gateway, client } = setup({ outboxSize: 3, reconnect: { initialDelayMs: 1000, maxDelayMs: 1000 } })
    await settle()
    gateway.current!.close(1012)
    await settle(5)
    expect(client.state).toBe('reconnecting')
    const sent = [client.cancel('r1'), client.feedback('r1', 'q1', 'yes'), client.cancel('r2')]
    const overflow = client.cancel('r3')
    await expect(overflow).rejects.toMatchObject({ code: ErrorCode.OutboxFull })
    await expect(overflow).rejects.toBeInstanceOf(AgentwireError)
    await until(() => client.state === 'open')
    await settle()
    await Promise.all(sent)
    expect(gateway.appliedCommands.map((f) => [f.type, (f as { requestId: string }).requestId])).toEqual([
      ['cancel', 'r1'],
      ['feedback', 'r1'],
      ['cancel', 'r2'],
    ])
    client.close()
  })

  it('C6: a command whose reply was lost with 20 dropped connections is re-sent with the same id and applied once each', async () => {
    const dropped = new Set<string>()
    const { gateway, client } = setup(
      {},
      {
        onFrame: (f, c) => {
          if (f.type !== 'feedback' || dropped.has(f.id)) return
          // Applied on the backend, then the link drops before the reply.
          dropped.add(f.id)
          gateway.appliedCommands.push(f)
          gateway.applied.set(f.id, 1)
          c.close(1006)
          return false
        },
      },
    )
    await settle()
    for (let i = 0; i < 20; i++) {
      let answered = false
      const done = client.feedback('req', `q${i}`, i).then(() => (answered = true))
      await until(() => answered)
      await expect(done).resolves.toBe(true)
    }
    const frames = gateway.framesOf('feedback')
    expect(frames).toHaveLength(40) // each sent twice: before and after its drop
    expect(new Set(frames.map((f) => f.id)).size).toBe(20)
    expect([...gateway.applied.values()].every((n) => n === 1)).toBe(true)
    expect(gateway.appliedCommands.map((f) => (f as { questionId: string }).questionId)).toEqual(Array.from({ length: 20 }, (_, i) => `q${i}`))
    client.close()
  })

  it('a command with no reply rejects with a TimeoutError after requestTimeoutMs', async () => {
    const { client } = setup({ requestTimeoutMs: 500 }, { onFrame: (f) => f.type !== 'cancel' })
    await settle()
    const pending = client.cancel('r')
    pending.catch(() => {})
    await settle(600)
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError', code: 'timeout' })
    client.close()
  })

  it('events keep flowing through all this (sanity)', async () => {
    const { gateway, client } = setup()
    const seen: number[] = []
    client.on('agent.status', (_e, ctx) => seen.push(ctx.seq!))
    client.subscribe('agent:a')
    await settle()
    gateway.publish('agent:a', agentStatus('a'))
    await settle()
    expect(seen).toEqual([1])
    client.close()
  })
})
