import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClient, type Client } from 'agentwire'
import { createMockGateway, type MockGateway } from 'agentwire/testing'
import { taskProgress } from '../support/adapters'

let gateway: MockGateway
let client: Client

beforeEach(() => {
  gateway = createMockGateway()
  client = createClient({ url: gateway.url, WebSocket: gateway.WebSocket, reconnect: { initialDelayMs: 1, maxDelayMs: 2 } })
})
afterEach(() => {
  client.close()
  gateway.close()
})

const resynced = (channel: string) => new Promise<void>((resolve) => { const off = client.on('resync', (r) => { if (r.channel === channel) { off(); resolve() } }) })

describe('the mock gateway', () => {
  it('replays what a dropped client missed, in the same epoch', async () => {
    const sub = client.subscribe('task:t1')
    await sub.ready
    gateway.publish('task:t1', taskProgress('t1', 10))
    const epoch = gateway.epoch
    // mock-socket closes a tick later: publish once the client has seen the drop.
    const down = new Promise<void>((resolve) => { const off = client.on('state', (c) => { if (c.current !== 'open') { off(); resolve() } }) })
    gateway.drop()
    await down
    gateway.publish('task:t1', taskProgress('t1', 50))
    await expect.poll(() => client.getSnapshot().tasks['t1']?.progress, { timeout: 10_000 }).toBe(50)
    const hellos = gateway.received.filter((f) => f.type === 'hello')
    expect(hellos).toHaveLength(2)
    expect(hellos[1]).toMatchObject({ resume: [{ channel: 'task:t1', resume: [{ channel: 'task:t1', epoch, seq: 1 }] }] })
    expect(gateway.epoch).toBe(epoch)
  })

  it('replays a channel born under a pattern while the client was away from its first event (the pattern has a position of its own)', async () => {
    await client.subscribe('task:*').ready
    const seen: string[] = []
    client.on('event', (_e, ctx) => void seen.push(`${ctx.channel}#${ctx.seq}`))
    const down = new Promise<void>((resolve) => { const off = client.on('state', (c) => { if (c.current !== 'open') { off(); resolve() } }) })
    gateway.drop()
    await down
    for (let i = 1; i <= 3; i++) gateway.publish('task:t9', taskProgress('t9', i * 10))
    await expect.poll(() => seen, { timeout: 10_000 }).toEqual(['task:t9#1', 'task:t9#2', 'task:t9#3'])
    const hellos = gateway.received.filter((f) => f.type === 'hello')
    expect(hellos[1]).toMatchObject({ resume: [{ channel: 'task:*', resume: [{ channel: 'task:*', epoch: gateway.epoch, seq: 0 }] }] })
  })

  it('loses its log on restart({ replay: false }): a new epoch, and clients resync from snapshots', async () => {
    await client.subscribe('task:*').ready
    gateway.publish('task:old', taskProgress('old', 100))
    await expect.poll(() => client.getSnapshot().tasks['old']?.progress).toBe(100)
    const before = gateway.epoch

    const done = resynced('task:old')
    gateway.restart({ replay: false })
    gateway.publish('task:new', taskProgress('new', 5))
    await done
    expect(gateway.epoch).not.toBe(before)
    await expect.poll(() => Object.keys(client.getSnapshot().tasks)).toEqual(['new'])
  })

  it('forgets nothing a pattern still covers when a channel inside it is released (epoch resync removes the stale entity)', async () => {
    await client.subscribe('task:*').ready
    const one = client.subscribe('task:a')
    await one.ready
    gateway.publish('task:a', taskProgress('a', 40))
    await expect.poll(() => client.getSnapshot().tasks['a']?.progress).toBe(40)
    one.unsubscribe()

    const done = resynced('task:a')
    gateway.restart({ replay: false })
    await done
    await expect.poll(() => client.getSnapshot().tasks['a']).toBeUndefined()
  })

  it('answers waitFor from frames already received, and from a given index on', async () => {
    await gateway.waitFor((f) => f.type === 'hello')
    await expect.poll(() => client.state).toBe('open')
    await client.subscribe('agent:planner').ready
    const first = await gateway.waitFor((f) => f.type === 'subscribe')
    expect(first).toMatchObject({ channels: [{ channel: 'agent:planner' }] })
    const after = gateway.received.length
    client.subscribe('agent:coder')
    expect(await gateway.waitFor((f) => f.type === 'subscribe', { after })).toMatchObject({ channels: [{ channel: 'agent:coder' }] })
    await expect(gateway.waitFor((f) => f.type === 'rejoin', { timeoutMs: 20 })).rejects.toThrow(/no matching client frame/)
  })
})
