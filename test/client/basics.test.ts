import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { agentStatus } from './support/fake-gateway'
import { settle, setup } from './support/setup'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('client basics', () => {
  it('connects, subscribes and delivers typed events into handlers and the store', async () => {
    const { gateway, client } = setup()
    const sub = client.subscribe('agent:planner')
    const seen: unknown[] = []
    client.on('agent.status', (event, ctx) => seen.push([event.payload.status, ctx.channel, ctx.seq]))
    await settle()
    expect(client.state).toBe('open')
    expect(sub.status).toBe('subscribed')
    gateway.publish('agent:planner', agentStatus('planner', 'busy'))
    gateway.publish('agent:planner', agentStatus('planner', 'available'))
    await settle()
    expect(seen).toEqual([
      ['busy', 'agent:planner', 1],
      ['available', 'agent:planner', 2],
    ])
    expect(client.getSnapshot().agents.planner?.status).toBe('available')
    client.close()
  })
})
