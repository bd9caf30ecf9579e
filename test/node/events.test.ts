import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ClientClosedError, TimeoutError } from 'agentwire/protocol'
import { createNodeClient, EventOverflowError, type ChannelEvent, type NodeClient } from 'agentwire/node'
import { createMockGateway, type MockGateway } from 'agentwire/testing'
import { agentStatus } from '../support/adapters'

let gateway: MockGateway
let client: NodeClient

beforeEach(async () => {
  gateway = createMockGateway()
  client = createNodeClient({ url: gateway.url, WebSocket: gateway.WebSocket })
  await client.ready()
})
afterEach(() => {
  client.close()
  gateway.close()
})

const subscribed = (pattern: string) => gateway.waitFor((f) => f.type === 'subscribe' && f.channels.some((c) => c.channel === pattern))
const unsubscribed = (pattern: string) => gateway.waitFor((f) => f.type === 'unsubscribe' && f.channels.includes(pattern))

async function take(stream: AsyncIterator<ChannelEvent>, n: number): Promise<ChannelEvent[]> {
  const out: ChannelEvent[] = []
  while (out.length < n) {
    const next = await stream.next()
    if (next.done) break
    out.push(next.value)
  }
  return out
}

describe('events(pattern)', () => {
  it('yields every matching event in order, with its channel and position', async () => {
    const stream = client.events('agent:*')
    await subscribed('agent:*')
    gateway.publish('agent:a', agentStatus('a', 'busy'))
    gateway.publish('agent:b', agentStatus('b', 'available'))
    gateway.publish('task:t1', { type: 'task.progress', payload: { taskId: 't1', progress: 5 } })
    gateway.publish('agent:a', agentStatus('a', 'available'))

    const got = await take(stream, 3)
    expect(got.map((e) => [e.channel, e.seq, e.event.type === 'agent.status' && e.event.payload.status])).toEqual([
      ['agent:a', 1, 'busy'],
      ['agent:b', 1, 'available'],
      ['agent:a', 2, 'available'],
    ])
    await stream.return!()
  })

  it('unsubscribes on break and ends', async () => {
    const stream = client.events('agent:*')
    await subscribed('agent:*')
    gateway.publish('agent:a', agentStatus('a', 'busy'))
    gateway.publish('agent:a', agentStatus('a', 'available'))
    const seen: string[] = []
    for await (const { event } of stream) {
      if (event.type === 'agent.status') seen.push(event.payload.status)
      break
    }
    expect(seen).toEqual(['busy'])
    await unsubscribed('agent:*')
    gateway.publish('agent:a', agentStatus('a', 'offline'))
    expect(await stream.next()).toEqual({ done: true, value: undefined })
  })

  it("with overflow 'error' (the default) yields what it holds, then throws a typed overflow error", async () => {
    const stream = client.events('agent:*', { bufferSize: 3 })
    await subscribed('agent:*')
    for (let i = 1; i <= 5; i++) gateway.publish('agent:a', agentStatus('a', i % 2 ? 'busy' : 'available', i))

    const got = await take(stream, 3)
    expect(got.map((e) => e.seq)).toEqual([1, 2, 3])
    const error = await stream.next().then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(EventOverflowError)
    expect(error).toMatchObject({ code: 'overloaded', pattern: 'agent:*', bufferSize: 3 })
    await unsubscribed('agent:*')
    expect(await stream.next()).toEqual({ done: true, value: undefined })
  })

  it("with overflow 'drop-oldest' keeps the newest events and marks the gap", async () => {
    const stream = client.events('agent:*', { bufferSize: 3, overflow: 'drop-oldest' })
    await subscribed('agent:*')
    for (let i = 1; i <= 5; i++) gateway.publish('agent:a', agentStatus('a', 'busy', i))

    const got = await take(stream, 3)
    expect(got.map((e) => [e.seq, e.dropped])).toEqual([
      [3, 2],
      [4, 0],
      [5, 0],
    ])
    await stream.return!()
    await unsubscribed('agent:*')
  })

  it('ends when the client closes', async () => {
    const stream = client.events('agent:*')
    const next = stream.next()
    client.close()
    expect(await next).toEqual({ done: true, value: undefined })
  })
})

describe('ready()', () => {
  it('rejects with a TimeoutError when the connection does not open in time', async () => {
    const lonely = createNodeClient({ url: 'ws://agentwire.test/nobody-here', WebSocket: gateway.WebSocket, reconnect: { initialDelayMs: 60_000 } })
    await expect(lonely.ready(50)).rejects.toBeInstanceOf(TimeoutError)
    lonely.close()
  })

  it('rejects with ClientClosedError when the client is closed while waiting', async () => {
    const other = createNodeClient({ url: gateway.url, WebSocket: gateway.WebSocket, autoConnect: false })
    const ready = other.ready(5_000)
    other.close()
    await expect(ready).rejects.toBeInstanceOf(ClientClosedError)
  })
})
