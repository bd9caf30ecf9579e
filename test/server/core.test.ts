import { describe, expect, it } from 'vitest'
import { createGatewayCore, type GatewaySocket } from 'agentwire/server'
import { manualClock } from './support/clock'

/** A socket with no network: what the core sends is recorded, backlog is set by the test. */
function fakeSocket() {
  const sent: any[] = []
  const state = { closed: undefined as { code: number; reason: string } | undefined, terminated: false, pings: 0, backlog: 0 }
  const socket: GatewaySocket = {
    send: (text) => void sent.push(JSON.parse(text)),
    close: (code, reason) => void (state.closed = { code, reason }),
    terminate: () => void (state.terminated = true),
    ping: () => void state.pings++,
    get bufferedAmount() {
      return state.backlog
    },
  }
  return { socket, sent, state }
}

const flush = () => new Promise<void>((r) => setImmediate(r))

describe('the gateway core without a network', () => {
  it('welcomes a hello, subscribes, and fans events out, over a socket of any runtime', async () => {
    const core = createGatewayCore({ clock: manualClock() })
    const { socket, sent } = fakeSocket()
    const connection = core.accept(socket, { headers: {} })!
    connection.receive('{"type":"hello","v":1}')
    await flush()
    connection.receive('{"type":"subscribe","id":"s","channels":[{"channel":"agent:a"}]}')
    await flush()
    await core.publish('agent:a', { type: 'agent.status', payload: { name: 'a', status: 'offline' } })
    expect(sent.map((f) => f.type)).toEqual(['welcome', 'reply', 'state', 'event'])
    expect(core.stats()).toMatchObject({ connections: 1, subscriptions: { total: 1 } })
    connection.closed()
    expect(core.stats()).toMatchObject({ connections: 0, subscriptions: { total: 0 } })
    await core.close()
  })

  it('closes a slow consumer with 4503 once its backlog passes the limit, without touching other connections', async () => {
    const core = createGatewayCore({ clock: manualClock(), limits: { maxBufferedBytes: 1000 } })
    const slow = fakeSocket()
    const fast = fakeSocket()
    const connections = [slow, fast].map((s) => core.accept(s.socket, { headers: {} })!)
    for (const c of connections) c.receive('{"type":"hello","v":1,"resume":[{"channel":"agent:a"}]}')
    await flush()
    slow.state.backlog = 990
    await core.publish('agent:a', { type: 'agent.status', payload: { name: 'a', status: 'busy' } })
    expect(slow.state.closed).toEqual({ code: 4503, reason: 'slow consumer: outgoing buffer full' })
    expect(fast.sent.filter((f) => f.type === 'event')).toHaveLength(1)
    expect(core.stats().drops).toEqual({ slow_consumer: 1 })
    // The runtime reports each socket gone; then close() has nothing to wait for.
    for (const c of connections) c.closed()
    await core.close()
  })

  it('pings an idle connection and terminates it when no pong comes', async () => {
    const clock = manualClock()
    const core = createGatewayCore({ clock, heartbeat: { intervalMs: 100, timeoutMs: 100 } })
    const { socket, state } = fakeSocket()
    const connection = core.accept(socket, { headers: {} })!
    connection.receive('{"type":"hello","v":1}')
    await flush()
    clock.advance(100)
    expect(state.pings).toBe(1)
    clock.advance(100)
    expect(state.terminated).toBe(true)
    expect(core.stats().drops).toEqual({ heartbeat_timeout: 1 })
    connection.closed()
    await core.close()
  })
})
