import { afterEach, describe, expect, it } from 'vitest'
import NodeWebSocket from 'ws'
import { createClient, fallbackTransport, type ConnectionStatus, type FallbackMode, type WebSocketConstructor } from 'agentwire'
import { createGateway, createHttpFallback, type Gateway } from 'agentwire/server'
import { startUpgradeRefusingProxy, type UpgradeRefusingProxy } from './proxy'

const WebSocket = NodeWebSocket as unknown as WebSocketConstructor

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

async function start(): Promise<{ gateway: Gateway; proxy: UpgradeRefusingProxy }> {
  const http = createHttpFallback()
  const gateway = createGateway({ port: 0, http: http.handle })
  await gateway.ready
  http.bind(gateway.core)
  cleanup.push(() => gateway.close({ drainMs: 0 }))
  cleanup.push(() => http.close())
  const proxy = await startUpgradeRefusingProxy({ host: '127.0.0.1', port: gateway.port })
  cleanup.push(() => proxy.close())
  return { gateway, proxy }
}

const status = (load: number) => ({ type: 'agent.status' as const, payload: { name: 'planner', status: 'busy' as const, load } })

describe('behind a proxy that refuses WebSocket upgrades', () => {
  it('falls back to HTTP, streams events and takes commands, then upgrades back without losing or repeating an event', async () => {
    const { gateway, proxy } = await start()
    const modes: FallbackMode[] = []
    const transport = fallbackTransport({ WebSocket, failuresBeforeFallback: 2, upgradeAfterMs: 50, onModeChange: (m) => modes.push(m) })
    const client = createClient({ url: proxy.url.replace('http', 'ws') + '/ws', transport, WebSocket, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } })
    cleanup.push(() => client.close())
    const states: ConnectionStatus[] = []
    client.on('state', (change) => states.push(change.current))
    const seen: Array<{ seq: number | undefined; load: number | undefined }> = []
    client.on('agent.status', (event, context) => seen.push({ seq: context.seq, load: event.payload.load }))

    const sub = client.subscribe('agent:planner')
    await sub.ready
    expect(transport.mode).toBe('http')
    expect(proxy.log.refusedUpgrades).toBeGreaterThanOrEqual(2)
    expect(proxy.log.httpRequests.some((r) => r.method === 'GET' && r.path === '/sse')).toBe(true)
    // The first refusal was a retry like any failed connect; the second went on over HTTP in the same attempt.
    expect(states.filter((s) => s === 'reconnecting')).toHaveLength(1)
    expect(states.at(-1)).toBe('open')
    states.length = 0

    // Events over server-sent events.
    let published = 0
    const publish = async (n: number) => {
      for (let i = 0; i < n; i++) await gateway.publish('agent:planner', status(++published))
    }
    await publish(20)
    await until(() => seen.length === 20, '20 events over HTTP')

    // Commands over POST, answered over the stream.
    const run = client.start({ query: 'plan a trip' })
    await run.accepted
    await client.cancel(run.id)
    expect(proxy.log.httpRequests.filter((r) => r.method === 'POST').length).toBeGreaterThan(0)

    // The proxy lets upgrades through; events keep coming while the client moves back.
    proxy.allowUpgrades(true)
    for (let round = 0; round < 2000 && !(transport.mode === 'websocket' && client.state === 'open' && proxy.log.passedUpgrades >= 2); round++) {
      await publish(1)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    expect(transport.mode).toBe('websocket')
    expect(client.state).toBe('open')
    await publish(20)
    await until(() => seen.length >= published, `all ${published} events`)

    // Audit: every event exactly once, in order, by position and by content.
    expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: published }, (_, i) => i + 1))
    expect(seen.map((e) => e.load)).toEqual(Array.from({ length: published }, (_, i) => i + 1))
    expect(modes).toEqual(['http', 'websocket'])
    // The move back was one resumed reconnect, not a pretended continuity.
    expect(states.filter((s) => s === 'reconnecting')).toHaveLength(1)
    expect(states.at(-1)).toBe('open')
  })

  it('tries the WebSocket first again when HTTP fails too (the server is down, not the upgrade)', async () => {
    const transport = fallbackTransport({ WebSocket, failuresBeforeFallback: 1 })
    const closes: number[] = []
    // Nothing listens on port 9 of loopback.
    transport.connect('ws://127.0.0.1:9/ws', { onOpen: () => {}, onFrame: () => {}, onClose: (code) => closes.push(code) })
    await until(() => closes.length === 1, 'the close')
    expect(transport.mode).toBe('websocket')
  })
})
