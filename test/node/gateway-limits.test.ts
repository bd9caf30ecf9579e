import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createClient, type Client, type StateChange, type WebSocketConstructor } from 'agentwire'
import { CloseCode, ErrorCode } from 'agentwire/protocol'
import { startGateway } from '../server/support/gateway'
import { createRegistry } from '../server/support/registry'

// Holes 2 and 5 of issue 17 against the real gateway over real sockets (the scenarios under
// fake timers are in test/client/poison-command.test.ts and limit-close.test.ts).

const registry = createRegistry()
const byToken = (token: string | undefined) => (token ? { id: token } : null)

function client(url: string, token: string, states: StateChange[] = []): Client {
  const c = createClient({
    url,
    token,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    environment: null,
    reconnect: { initialDelayMs: 10, maxDelayMs: 400, stableAfterMs: 100 },
  })
  c.on('state', (s) => states.push(s))
  registry.track(() => c.close())
  return c
}

const opened = (c: Client) =>
  new Promise<void>((resolve) => {
    if (c.state === 'open') return resolve()
    const off = c.on('state', (s) => {
      if (s.current === 'open') off(), resolve()
    })
  })

const next = (c: Client, predicate: (s: StateChange) => boolean) =>
  new Promise<StateChange>((resolve) => {
    const off = c.on('state', (s) => {
      if (predicate(s)) off(), resolve(s)
    })
  })

describe('the gateway\'s limits, from the client (issue 17)', () => {
  it('hole 2: a 65,536-character query is refused by the client itself, from the welcome\'s maxPayload; the link stays up', async () => {
    const gateway = await startGateway(registry, { authenticate: byToken })
    const states: StateChange[] = []
    const alice = client(gateway.url, 'alice', states)
    await opened(alice)
    const run = alice.start({ query: 'q'.repeat(65_536) })
    await expect(run.accepted).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge })
    const small = alice.start({ query: 'fits' })
    await small.accepted
    expect(alice.state).toBe('open')
    expect(alice.stats.reconnects).toBe(0)
    expect(states.some((s) => s.current === 'reconnecting')).toBe(false)
  })

  it('hole 5: the eleventh connection of one user waits the longest delay before each retry, and says so', async () => {
    const gateway = await startGateway(registry, { authenticate: byToken })
    const tabs = Array.from({ length: 10 }, () => client(gateway.url, 'bob'))
    await Promise.all(tabs.map(opened))
    const states: StateChange[] = []
    const eleventh = client(gateway.url, 'bob', states)
    const limited = await next(eleventh, (s) => s.current === 'reconnecting')
    const limitedAt = Date.now()
    expect(limited.reason?.code).toBe(CloseCode.TooManyConnections)
    expect(limited.reason?.message).toMatch(/limit.*400 ms/)
    await next(eleventh, (s) => s.current === 'connecting')
    expect(Date.now() - limitedAt).toBeGreaterThanOrEqual(390)
    // A tab closes: the eleventh gets in at its next try.
    tabs[0]!.close()
    await opened(eleventh)
    expect(states.filter((s) => s.current === 'reconnecting').every((s) => s.reason?.code === CloseCode.TooManyConnections)).toBe(true)
  })
})
