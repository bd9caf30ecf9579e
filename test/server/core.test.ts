import { describe, expect, it } from 'vitest'
import { parseReconnectHint, reconnectHintReason } from 'agentwire/protocol'
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

  it('S2: a drain closes every client with 1012 at once, each with the reconnect window and a slot of its own, the slots spread evenly', async () => {
    for (const [count, option, windowMs] of [[40, undefined, 40], [40, 6000, 6000], [1, undefined, 1]] as const) {
      const core = createGatewayCore({ clock: manualClock() })
      const sockets = Array.from({ length: count }, () => fakeSocket())
      const connections = sockets.map((s) => core.accept(s.socket, { headers: {} })!)
      for (const c of connections) c.receive('{"type":"hello","v":1}')
      await flush()
      const closing = core.close(option === undefined ? { drainMs: 1000 } : { drainMs: 1000, reconnectWindowMs: option })
      // All of them before the drain waits for anything.
      expect(sockets.every((s) => s.state.closed?.code === 1012)).toBe(true)
      const hints = sockets.map((s) => parseReconnectHint(1012, s.state.closed!.reason))
      expect(sockets[0]!.state.closed!.reason).toMatch(/^gateway restarting; reconnect within \d+ ms \(slot [01]\.\d{4}\)$/)
      // Default: one millisecond per connection (1,000 reconnects per second).
      expect(hints.every((h) => h?.windowMs === windowMs)).toBe(true)
      const slots = hints.map((h) => h!.slot!).sort((a, b) => a - b)
      expect(slots.every((x) => x >= 0 && x < 1)).toBe(true)
      // Evenly: any tenth of [0, 1) holds a tenth of them, give or take one.
      for (let k = 0; k < 10; k++) {
        const inTenth = slots.filter((x) => x >= k / 10 && x < (k + 1) / 10).length
        expect(Math.abs(inTenth - count / 10)).toBeLessThanOrEqual(1)
      }
      for (const c of connections) c.closed()
      await closing
    }
  })

  it('the reconnect hint reads back from any reason it was added to, within the 123-byte close reason', () => {
    for (const reason of ['gateway restarting', 'x'.repeat(200), 'ünïcödé '.repeat(20)]) {
      const text = reconnectHintReason(reason, { windowMs: 12_345.6, slot: 0.12345 })
      expect(new TextEncoder().encode(text).length).toBeLessThanOrEqual(123)
      expect(parseReconnectHint(1012, text)).toEqual({ windowMs: 12_346, slot: 0.1235 })
      expect(parseReconnectHint(1006, text)).toBeUndefined()
    }
    expect(parseReconnectHint(1013, reconnectHintReason('busy', { windowMs: 2000 }))).toEqual({ windowMs: 2000 })
    expect(parseReconnectHint(1012, 'gateway restarting')).toBeUndefined()
  })
})
