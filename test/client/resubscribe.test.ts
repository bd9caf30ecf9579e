import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { agentStatus } from './support/fake-gateway'
import { settle, setup, until } from './support/setup'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('a gap asks again from the last position, and the asking never stops short (Tier A)', () => {
  it('a second gap while the re-subscribe is on its way waits for its answer; the one replay fills both, in order, once', async () => {
    let withheld: (() => void) | undefined
    const { gateway, client } = setup({}, {
      // The first re-subscribe is held back until the test lets it through.
      onFrame: (frame, connection) => {
        if (frame.type !== 'subscribe' || gateway.framesOf('subscribe', connection).length !== 1 || withheld) return
        withheld = () => connection.subscriptions.add('agent:a')
        return false
      },
    })
    client.subscribe('agent:a')
    const seen: number[] = []
    client.on('event', (_e, ctx) => seen.push(ctx.seq!))
    await settle()
    const c = gateway.current!
    gateway.publish('agent:a', agentStatus('a'))
    await settle()
    // 2 goes missing, 3 arrives: a gap; 4 missing, 5 arrives: a gap while the first re-subscribe is pending.
    for (let i = 2; i <= 5; i++) {
      if (i % 2 === 0) c.subscriptions.delete('agent:a')
      gateway.publish('agent:a', agentStatus('a', i % 2 === 0 ? 'busy' : 'available'))
      c.subscriptions.add('agent:a')
      await settle()
    }
    expect(seen).toEqual([1])
    expect(gateway.framesOf('subscribe', c)).toHaveLength(1) // the second gap did not ask again
    expect(withheld).toBeDefined()
    // The gateway answers after all (here: the same re-subscribe, handled late).
    const resubscribe = gateway.framesOf('subscribe', c)[0]!
    c.subscriptions.delete('agent:a')
    c.send({ type: 'reply', id: resubscribe.id, ok: true, result: [{ ok: true, channel: 'agent:a', recovered: true }] })
    for (let seq = 2; seq <= 5; seq++) c.send({ type: 'event', channel: 'agent:a', epoch: gateway.epoch('agent:a'), seq, event: agentStatus('a') })
    withheld!()
    await settle()
    expect(seen).toEqual([1, 2, 3, 4, 5])
    // A gap after the answer is a new one: asked again.
    c.subscriptions.delete('agent:a')
    gateway.publish('agent:a', agentStatus('a'))
    c.subscriptions.add('agent:a')
    gateway.publish('agent:a', agentStatus('a'))
    await settle()
    expect(gateway.framesOf('subscribe', c)).toHaveLength(2)
    expect(gateway.framesOf('subscribe', c)[1]!.channels).toEqual([{ channel: 'agent:a', resume: [{ channel: 'agent:a', epoch: gateway.epoch('agent:a'), seq: 5 }] }])
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7])
    client.close()
  })

  it('a re-subscribe the gateway never answers (shed under load) is asked again after requestTimeoutMs, and the channel catches up', async () => {
    const { gateway, client, errors } = setup({ requestTimeoutMs: 2000 }, {
      // The first re-subscribe is lost: the gateway sheds it without a reply.
      onFrame: (frame, connection): boolean | undefined => (frame.type === 'subscribe' && gateway.framesOf('subscribe', connection).length === 1 ? false : undefined),
    })
    client.subscribe('agent:a')
    const seen: number[] = []
    client.on('event', (_e, ctx) => seen.push(ctx.seq!))
    await settle()
    const c = gateway.current!
    gateway.publish('agent:a', agentStatus('a'))
    c.subscriptions.delete('agent:a')
    gateway.publish('agent:a', agentStatus('a', 'busy'))
    c.subscriptions.add('agent:a')
    gateway.publish('agent:a', agentStatus('a', 'available'))
    await settle()
    expect(seen).toEqual([1])
    expect(gateway.framesOf('subscribe', c)).toHaveLength(1)
    for (let i = 0; i < 3; i++) gateway.publish('agent:a', agentStatus('a'))
    await settle()
    expect(seen).toEqual([1]) // held: the re-subscribe is pending
    await until(() => gateway.framesOf('subscribe', c).length === 2, 10_000)
    expect(gateway.framesOf('subscribe', c)[1]!.channels).toEqual([{ channel: 'agent:a', resume: [{ channel: 'agent:a', epoch: gateway.epoch('agent:a'), seq: 1 }] }])
    await until(() => seen.length === 6, 10_000)
    expect(seen).toEqual([1, 2, 3, 4, 5, 6])
    expect(client.state).toBe('open') // the connection itself stayed up
    expect(client.subscribe('agent:a').status).toBe('subscribed')
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['timeout'])
    client.close()
    await settle(1000)
    expect(vi.getTimerCount()).toBe(0) // no deadline of a subscribe outlives the client
  })
})
