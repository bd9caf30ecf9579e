import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createClient, type Client, type ClientOptions, type WebSocketConstructor } from 'agentwire'
import type { CommandFrame } from 'agentwire/server'
import { fakeEnvironment } from '../client/support/setup'
import { startGateway } from '../server/support/gateway'
import { createRegistry } from '../server/support/registry'
import { recovery } from 'agentwire/recovery'
import { memoryStorage } from '../support/storage'

// Steering across a reload against the real gateway over real sockets: the command the next
// page re-sends reaches the application's onCommand once (the scenarios under fake timers are
// in test/client/steering.test.ts).

const registry = createRegistry()
const byToken = (token: string | undefined) => (token ? { id: token } : null)


function page(url: string, options: Partial<ClientOptions>) {
  const env = fakeEnvironment()
  const client: Client = createClient({
    url,
    token: 'alice',
    user: 'alice',
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    environment: env,
    reconnect: { initialDelayMs: 10, maxDelayMs: 200 },
    ...options,
    // The page's storage, through the entry that brings the code for it.
    ...(options.storage ? recovery({ storage: options.storage }) : {}),
  })
  registry.track(() => client.close())
  /** The page is gone: offline for good, its socket closed, it never sends again. */
  const die = () => {
    env.navigator.onLine = false
    env.fire('offline')
  }
  return { client, die }
}

const opened = (c: Client) =>
  new Promise<void>((resolve) => {
    if (c.state === 'open') return resolve()
    const off = c.on('state', (s) => {
      if (s.current === 'open') off(), resolve()
    })
  })

const storedIds = (storage: ReturnType<typeof memoryStorage>): string[] => {
  const text = [...storage.items.entries()].find(([key]) => key.endsWith(':steering'))?.[1]
  return text === undefined ? [] : (JSON.parse(text) as { commands: { frame: { id: string } }[] }).commands.map((c) => c.frame.id)
}

describe('steering across a reload, over the real gateway', () => {
  it('a feedback queued offline by the first page reaches onCommand exactly once, sent by the second page with its id', async () => {
    const seen: CommandFrame[] = []
    const gateway = await startGateway(registry, {
      authenticate: byToken,
      onCommand: (command, context) => {
        seen.push(command)
        return context.defaultHandler()
      },
    })
    const storage = memoryStorage()
    const first = page(gateway.url, { storage, autoConnect: false })
    void first.client.feedback('r-1', 'q-1', { approve: true }).catch(() => {})
    const [id] = storedIds(storage)
    expect(id).toBeTypeOf('string')
    // The first page is dropped without ever connecting.

    const second = page(gateway.url, { storage })
    const [restored] = second.client.restoredCommands()
    await restored!.result
    await opened(second.client)
    // One more round trip on the same link, so a second copy would have arrived before it.
    await second.client.cancel('r-other')
    expect(seen.filter((c) => c.type === 'feedback')).toEqual([{ type: 'feedback', id, requestId: 'r-1', questionId: 'q-1', answer: { approve: true } }])
    expect(storedIds(storage)).toEqual([])
  })

  it('a feedback the gateway applied while the first page died before the reply: the second page re-sends the id and onCommand still runs once', async () => {
    const seen: CommandFrame[] = []
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let reached!: () => void
    const reachedGate = new Promise<void>((resolve) => (reached = resolve))
    const gateway = await startGateway(registry, {
      authenticate: byToken,
      onCommand: async (command, context) => {
        seen.push(command)
        if (command.type === 'feedback') {
          reached()
          await gate
        }
        return context.defaultHandler()
      },
    })
    const storage = memoryStorage()
    const first = page(gateway.url, { storage })
    await opened(first.client)
    void first.client.feedback('r-1', 'q-1', 'yes').catch(() => {})
    await reachedGate
    first.die()
    expect(storedIds(storage)).toHaveLength(1)

    // The reloaded page re-sends while the first copy is still running, and once more after.
    const second = page(gateway.url, { storage })
    const [restored] = second.client.restoredCommands()
    await opened(second.client)
    setTimeout(release, 50)
    await restored!.result
    await second.client.cancel('r-other')
    expect(seen.filter((c) => c.type === 'feedback')).toHaveLength(1)
    expect(seen.find((c) => c.type === 'feedback')!.id).toBe(restored!.id)
    expect(storedIds(storage)).toEqual([])
  })
})
