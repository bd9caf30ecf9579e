import { describe, expect, it } from 'vitest'
import { AgentwireError, ErrorCode } from 'agentwire/protocol'
import { createGatewayCore, memoryBroker, type Broker, type BrokerListener } from 'agentwire/server'
import { manualClock } from './support/clock'
import { cleanupsAfterEach, fakeSocket, until } from './support/core'
import { patternAuthorizationSuite } from './support/pattern-authorization'

patternAuthorizationSuite('memory broker')

const cleanups = cleanupsAfterEach()

describe('patterns and authorization when the broker resyncs a channel', () => {
  it('sends the fresh state of an allowed channel under the pattern, and none of a refused one', async () => {
    const inner = memoryBroker()
    const listeners: BrokerListener[] = []
    const broker: Broker = {
      ...inner,
      async subscribe(pattern, listener) {
        listeners.push(listener)
        return inner.subscribe(pattern, listener)
      },
    }
    const core = createGatewayCore({
      clock: manualClock(),
      broker,
      authenticate: (token) => (token ? { id: token } : null),
      authorize: (principal, channel) => channel !== 'user:bob' || principal.id === 'bob',
    })
    cleanups.push(() => core.close())
    cleanups.push(() => inner.close())
    await inner.publish('user:bob', { type: 'agent.status', payload: { name: 'bob', status: 'busy' } })
    await inner.publish('user:bobby', { type: 'agent.status', payload: { name: 'bobby', status: 'busy' } })

    const alice = fakeSocket()
    const connection = core.accept(alice.socket, { headers: {} })!
    cleanups.push(async () => connection.closed())
    connection.receive('{"type":"hello","v":1,"token":"alice"}')
    await until(() => alice.sent.some((f) => f.type === 'welcome'), () => JSON.stringify(alice.sent))
    connection.receive('{"type":"subscribe","id":"s1","channels":[{"channel":"user:*"}]}')
    await until(() => alice.sent.some((f) => f.type === 'reply' && f.id === 's1'), () => JSON.stringify(alice.sent))
    await until(() => listeners.length === 1, () => `${listeners.length} broker listeners`)

    // The log of both channels was lost (a Redis restart, say): each is re-sent as a state frame.
    alice.sent.length = 0
    listeners[0]!.resync?.('user:bob', 'epoch')
    listeners[0]!.resync?.('user:bobby', 'epoch')
    await until(() => alice.sent.some((f) => f.type === 'state' && f.channel === 'user:bobby'), () => JSON.stringify(alice.sent))
    // One more round trip through the connection's queue, after both resyncs.
    connection.receive('{"type":"unsubscribe","id":"u1","channels":["user:nobody"]}')
    await until(() => alice.sent.some((f) => f.type === 'reply' && f.id === 'u1'), () => JSON.stringify(alice.sent))
    expect(alice.sent.filter((f) => f.channel === 'user:bob')).toEqual([])
    expect(alice.sent.filter((f) => f.type === 'state').map((f) => [f.channel, f.reason])).toEqual([['user:bobby', 'epoch']])
  })
})

describe('patterns and an authorize hook that throws', () => {
  it('"not now" for a channel under a pattern closes with 1013, and the resumed connection gets the channel', async () => {
    let busy = true
    const core = createGatewayCore({
      clock: manualClock(),
      authenticate: (token) => (token ? { id: token } : null),
      authorize: (_, channel) => {
        if (channel === 'user:carol' && busy) throw new AgentwireError(ErrorCode.Overloaded, 'policy store busy')
        return true
      },
    })
    cleanups.push(() => core.close())
    const closes: number[] = []
    const first = fakeSocket()
    first.socket.close = (code) => void closes.push(code)
    const connection = core.accept(first.socket, { headers: {} })!
    cleanups.push(async () => connection.closed())
    connection.receive('{"type":"hello","v":1,"token":"alice","resume":[{"channel":"user:*"}]}')
    await until(() => first.sent.some((f) => f.type === 'welcome'), () => JSON.stringify(first.sent))
    await core.publish('user:carol', { type: 'agent.status', payload: { name: 'carol', status: 'busy' } })
    await until(() => closes.length > 0, () => JSON.stringify(first.sent))
    expect(closes).toEqual([1013])
    expect(first.sent.filter((f) => f.channel === 'user:carol')).toEqual([])

    busy = false
    const second = fakeSocket()
    const again = core.accept(second.socket, { headers: {} })!
    cleanups.push(async () => again.closed())
    again.receive('{"type":"hello","v":1,"token":"alice","resume":[{"channel":"user:*"}]}')
    await until(() => second.sent.some((f) => f.type === 'state' && f.channel === 'user:carol'), () => JSON.stringify(second.sent))
    expect(second.sent.find((f) => f.type === 'state' && f.channel === 'user:carol')).toMatchObject({ seq: 1 })
  })

  it('any other throw is a refusal: nothing of the channel reaches the pattern, the rest goes on', async () => {
    const core = createGatewayCore({
      clock: manualClock(),
      authenticate: (token) => (token ? { id: token } : null),
      authorize: (_, channel) => {
        if (channel === 'user:carol') throw new Error('bug in the policy')
        return true
      },
    })
    cleanups.push(() => core.close())
    const alice = fakeSocket()
    const connection = core.accept(alice.socket, { headers: {} })!
    cleanups.push(async () => connection.closed())
    connection.receive('{"type":"hello","v":1,"token":"alice","resume":[{"channel":"user:*"}]}')
    await until(() => alice.sent.some((f) => f.type === 'welcome'), () => JSON.stringify(alice.sent))
    for (let i = 1; i <= 3; i++) {
      await core.publish('user:carol', { type: 'agent.status', payload: { name: 'carol', status: 'busy', load: i } })
      await core.publish('user:dave', { type: 'agent.status', payload: { name: 'dave', status: 'busy', load: i } })
    }
    await until(() => alice.sent.some((f) => f.type === 'event' && f.channel === 'user:dave' && f.seq === 3), () => JSON.stringify(alice.sent))
    expect(alice.sent.filter((f) => f.channel === 'user:carol')).toEqual([])
    expect(alice.sent.filter((f) => f.channel === 'user:dave').map((f) => f.seq)).toEqual([1, 2, 3])
  })
})

describe('patterns and a resume on the same connection', () => {
  it('holds the channel while its fresh question is out, and drops what the answer refuses', async () => {
    let pending: ((allowed: boolean) => void) | undefined
    const core = createGatewayCore({
      clock: manualClock(),
      authenticate: (token) => (token ? { id: token } : null),
      authorize: (_, channel, action) => (channel === 'user:carol' && action === 'resume' ? new Promise<boolean>((resolve) => (pending = resolve)) : true),
    })
    cleanups.push(() => core.close())
    const alice = fakeSocket()
    const connection = core.accept(alice.socket, { headers: {} })!
    cleanups.push(async () => connection.closed())
    connection.receive('{"type":"hello","v":1,"token":"alice","resume":[{"channel":"user:*"}]}')
    await until(() => alice.sent.some((f) => f.type === 'welcome'), () => JSON.stringify(alice.sent))
    const first = await core.publish('user:carol', { type: 'agent.status', payload: { name: 'carol', status: 'busy' } })
    await until(() => alice.sent.some((f) => f.type === 'event' && f.channel === 'user:carol'), () => JSON.stringify(alice.sent))

    // The pattern again, resuming carol's channel: her grant is asked anew, and withdrawn.
    const resume = { channel: 'user:*', resume: [{ channel: 'user:carol', epoch: first.epoch, seq: 1 }] }
    connection.receive(JSON.stringify({ type: 'subscribe', id: 's2', channels: [resume] }))
    await until(() => pending !== undefined, () => 'no resume question')
    await core.publish('user:carol', { type: 'agent.status', payload: { name: 'carol', status: 'offline' } })
    pending!(false)
    await until(() => alice.sent.some((f) => f.type === 'reply' && f.id === 's2'), () => JSON.stringify(alice.sent))
    await core.publish('user:carol', { type: 'agent.status', payload: { name: 'carol', status: 'available' } })
    await core.publish('user:dave', { type: 'agent.status', payload: { name: 'dave', status: 'busy' } })
    await until(() => alice.sent.some((f) => f.type === 'event' && f.channel === 'user:dave'), () => JSON.stringify(alice.sent))
    expect(alice.sent.filter((f) => f.channel === 'user:carol').map((f) => [f.type, f.seq])).toEqual([['event', 1]])
  })
})
