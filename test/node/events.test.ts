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

describe('over a real gateway (ws on 127.0.0.1, port 0)', () => {
  it('streams in order, and break unsubscribes on the server', async () => {
    const { createGateway } = await import('agentwire/server')
    const real = createGateway({ port: 0 })
    await real.ready
    const node = createNodeClient({ url: real.url })
    try {
      await node.ready()
      const stream = node.events('agent:*')
      await expect.poll(() => real.stats().subscriptions.total, { timeout: 10_000 }).toBeGreaterThan(0)
      for (let i = 1; i <= 20; i++) await real.publish(`agent:n${i % 3}`, agentStatus(`n${i % 3}`, 'busy', i / 100))
      const got: Array<[string, number | undefined, number | undefined]> = []
      for await (const { event, channel, seq } of stream) {
        got.push([channel, seq, event.type === 'agent.status' ? event.payload.load : undefined])
        if (got.length === 20) break
      }
      expect(got.map((g) => g[2])).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) / 100))
      for (const channel of ['agent:n0', 'agent:n1', 'agent:n2']) {
        const seqs = got.filter((g) => g[0] === channel).map((g) => g[1])
        expect(seqs).toEqual(seqs.map((_, i) => i + 1))
      }
      await expect.poll(() => real.stats().subscriptions.total, { timeout: 10_000 }).toBe(0)
    } finally {
      node.close()
      await real.close({ drainMs: 0 })
    }
  })
})
