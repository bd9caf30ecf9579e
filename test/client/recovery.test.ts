import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'mock-socket'
import { createClient, ErrorCode, type AgentwireError, type Client, type ClientOptions, type EventContext, type ResyncInfo, type WebSocketConstructor } from 'agentwire'
import { agentStatus, type FakeGateway } from './support/fake-gateway'
import { B, C, H, T, fakeEnvironment, settle, setup, until } from './support/setup'
import { recovery } from 'agentwire/recovery'
import { memoryStorage } from '../support/storage'

/**
 * RELIABILITY C7: a page reload within the recovery window. The first page saves each
 * channel's position and state when it is hidden; the reloaded page shows that state at once
 * and resumes every channel from its last seq: no event lost, none twice. Storage is a fake
 * `sessionStorage`; a "reload" is the old client gone and a new one made on the same storage.
 */

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})


/** A page: a client on `gateway` with its own environment, recording what it delivers. */
function page(gateway: FakeGateway, options: Partial<ClientOptions> = {}) {
  const env = fakeEnvironment()
  const delivered: Array<[string, number]> = []
  const resyncs: ResyncInfo[] = []
  const errors: AgentwireError[] = []
  const client: Client = createClient({
    url: gateway.url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    environment: env,
    reconnect: { initialDelayMs: B, maxDelayMs: C },
    heartbeat: { intervalMs: H, timeoutMs: T },
    ...options,
    // The page's storage, through the entry that brings the code for it.
    ...(options.storage ? recovery({ storage: options.storage }) : {}),
  })
  client.on('event', (_e, ctx: EventContext) => delivered.push([ctx.channel, ctx.seq!]))
  client.on('resync', (r) => resyncs.push(r))
  client.on('error', (e) => errors.push(e))
  /** The page is hidden (tab switched) and then unloaded. */
  const hide = () => {
    env.document.visibilityState = 'hidden'
    env.fire('visibilitychange')
    env.fire('pagehide')
  }
  return { client, env, delivered, resyncs, errors, hide }
}

const seqsOf = (delivered: Array<[string, number]>, channel: string) => delivered.filter(([c]) => c === channel).map(([, s]) => s)

describe('C7: recovery across a page reload', () => {
  it('the reloaded page shows the saved state at once and resumes each channel from its last seq: no loss, no duplicate', async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false })
    const first = page(gateway, { storage })
    first.client.subscribe('agent:a')
    first.client.subscribe('agent:*') // a pattern: each concrete channel it covers is saved on its own
    await until(() => first.client.state === 'open')
    await settle()
    for (let i = 1; i <= 3; i++) gateway.publish('agent:a', agentStatus('a', 'busy', i))
    for (let i = 1; i <= 2; i++) gateway.publish('agent:b', agentStatus('b', 'available', 10 + i))
    await settle()
    expect(storage.writes).toBe(0) // never per event
    first.hide()
    expect(storage.writes).toBe(2) // visibilitychange to hidden, then pagehide
    first.client.close() // the old page is gone

    // Between the pages, the stream goes on.
    gateway.publish('agent:a', agentStatus('a', 'busy', 4))
    gateway.publish('agent:a', agentStatus('a', 'offline', 5))
    gateway.publish('agent:b', agentStatus('b', 'busy', 13))

    const second = page(gateway, { storage, autoConnect: false })
    // At once, before any frame: the state the first page had.
    expect(second.client.getSnapshot().agents.a).toMatchObject({ status: 'busy', load: 3 })
    expect(second.client.getSnapshot().agents.b).toMatchObject({ status: 'available', load: 12 })
    second.client.subscribe('agent:a')
    second.client.subscribe('agent:*')
    second.client.connect()
    await until(() => second.client.state === 'open')
    await settle()

    const hello = gateway.framesOf('hello', gateway.current!)[0]!
    expect(hello.resume).toEqual([
      { channel: 'agent:a', resume: [{ channel: 'agent:a', epoch: gateway.epoch('agent:a'), seq: 3 }] },
      {
        channel: 'agent:*',
        resume: [
          { channel: 'agent:a', epoch: gateway.epoch('agent:a'), seq: 3 },
          { channel: 'agent:b', epoch: gateway.epoch('agent:b'), seq: 2 },
        ],
      },
    ])
    // Exactly the events after the saved positions, once each, in order: Tier A.
    expect(seqsOf(second.delivered, 'agent:a')).toEqual([4, 5])
    expect(seqsOf(second.delivered, 'agent:b')).toEqual([3])
    expect(second.resyncs).toEqual([])
    expect(second.client.getSnapshot().agents.a).toMatchObject({ status: 'offline', load: 5 })
    expect(second.client.getSnapshot().agents.b).toMatchObject({ status: 'busy', load: 13 })
    // And live from there.
    gateway.publish('agent:a', agentStatus('a', 'busy', 6))
    await settle()
    expect(seqsOf(second.delivered, 'agent:a')).toEqual([4, 5, 6])
    second.client.close()
  })

  it('beyond the replay window the reloaded page gets a snapshot marked as such, never a partial replay', async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false }, { window: 2 })
    const first = page(gateway, { storage })
    first.client.subscribe('agent:a')
    await until(() => first.client.state === 'open')
    await settle()
    gateway.publish('agent:a', agentStatus('a', 'busy', 1))
    await settle()
    first.hide()
    first.client.close()
    for (let i = 2; i <= 6; i++) gateway.publish('agent:a', agentStatus('a', 'available', i))

    const second = page(gateway, { storage })
    second.client.subscribe('agent:a')
    await until(() => second.client.state === 'open')
    await settle()
    expect(second.delivered).toEqual([])
    expect(second.resyncs).toEqual([{ channel: 'agent:a', reason: 'window' }])
    expect(second.client.getSnapshot().agents.a).toMatchObject({ status: 'available', load: 6 })
    gateway.publish('agent:a', agentStatus('a', 'busy', 7))
    await settle()
    expect(seqsOf(second.delivered, 'agent:a')).toEqual([7])
    second.client.close()
  })

  it('two instances on one origin keep their data under distinct keys, and each reload gets only its own', async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false })
    const left = page(gateway, { storage, instance: 'left' })
    const right = page(gateway, { storage, instance: 'right' })
    left.client.subscribe('agent:l')
    right.client.subscribe('agent:r')
    await until(() => left.client.state === 'open' && right.client.state === 'open')
    await settle()
    gateway.publish('agent:l', agentStatus('l', 'busy', 1))
    gateway.publish('agent:r', agentStatus('r', 'busy', 2))
    await settle()
    left.hide()
    right.hide()
    const keys = [...storage.items.keys()]
    expect(keys).toHaveLength(2)
    expect(new Set(keys).size).toBe(2)
    expect(keys.every((k) => k.includes(new URL(gateway.url).host))).toBe(true)
    left.client.close()
    right.client.close()

    const leftAgain = page(gateway, { storage, instance: 'left', autoConnect: false })
    expect(Object.keys(leftAgain.client.getSnapshot().agents)).toEqual(['l'])
    const rightAgain = page(gateway, { storage, instance: 'right', autoConnect: false })
    expect(Object.keys(rightAgain.client.getSnapshot().agents)).toEqual(['r'])
    // Another URL is another key by default, with no instance named.
    const elsewhere = page({ ...gateway, url: `${gateway.url}/other` } as FakeGateway, { storage, autoConnect: false })
    expect(Object.keys(elsewhere.client.getSnapshot().agents)).toEqual([])
    for (const p of [leftAgain, rightAgain, elsewhere]) p.client.close()
  })

  it('two live clients claiming one key: the second is told, and writes nothing over the first', async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false })
    const one = page(gateway, { storage })
    const two = page(gateway, { storage })
    one.client.subscribe('agent:a')
    two.client.subscribe('agent:b')
    await until(() => one.client.state === 'open' && two.client.state === 'open')
    await settle()
    gateway.publish('agent:a', agentStatus('a', 'busy', 1))
    gateway.publish('agent:b', agentStatus('b', 'busy', 1))
    await settle()
    one.hide()
    two.hide()
    two.hide()
    expect(two.errors.map((e) => e.code)).toEqual([ErrorCode.Conflict]) // once, not per hide
    expect(two.errors[0]!.message).toMatch(/give each client its own `instance`/)
    expect(storage.items.size).toBe(1)
    expect([...storage.items.values()][0]).toContain('agent:a')
    expect([...storage.items.values()][0]).not.toContain('agent:b')
    // Once the first is closed, the key is free.
    one.client.close()
    two.hide()
    expect([...storage.items.values()][0]).toContain('agent:b')
    two.client.close()
  })

  it('recovery data saved for one user is never used for another: a fresh session, and the data is removed', async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false })
    const alice = page(gateway, { storage, user: 'alice' })
    alice.client.subscribe('agent:a')
    await until(() => alice.client.state === 'open')
    await settle()
    gateway.publish('agent:a', agentStatus('a', 'busy', 1))
    gateway.publish('agent:a', agentStatus('a', 'busy', 2))
    await settle()
    alice.hide()
    alice.client.close()
    expect(storage.items.size).toBe(1)

    for (const user of ['bob', undefined]) {
      // Saved again for alice before each attempt.
      if (storage.items.size === 0) {
        const again = page(gateway, { storage, user: 'alice' })
        again.client.subscribe('agent:a')
        await until(() => again.client.state === 'open')
        await settle()
        again.hide()
        again.client.close()
      }
      const other = page(gateway, { storage, autoConnect: false, ...(user === undefined ? {} : { user }) })
      expect(other.client.getSnapshot().agents).toEqual({})
      expect(storage.items.size).toBe(0)
      other.client.subscribe('agent:a')
      other.client.connect()
      await until(() => other.client.state === 'open')
      await settle()
      // Nothing to resume from: the gateway sends the channel's state as a first subscribe.
      expect(gateway.framesOf('hello', gateway.current!)[0]!.resume).toEqual([{ channel: 'agent:a' }])
      expect(other.client.getSnapshot().agents.a).toMatchObject({ load: 2 })
      other.client.close()
    }
  })

  it('a record larger than maxStorageLength is not saved, and an older one is removed', async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false })
    const first = page(gateway, { storage, maxStorageLength: 2_000 })
    first.client.subscribe('agent:a')
    await until(() => first.client.state === 'open')
    await settle()
    gateway.publish('agent:a', agentStatus('a', 'busy', 1))
    await settle()
    first.hide()
    expect(storage.items.size).toBe(1)
    for (let i = 0; i < 40; i++) gateway.publish('agent:a', { type: 'system.notification', payload: { level: 'info', message: `note ${i} ${'x'.repeat(40)}` } })
    await settle()
    first.hide()
    expect(storage.items.size).toBe(0)
    first.client.close()
    const second = page(gateway, { storage, autoConnect: false })
    expect(second.client.getSnapshot().agents).toEqual({})
    second.client.close()
  })

  it('storage that throws or holds garbage never breaks the client', async () => {
    const { gateway } = setup({ autoConnect: false })
    const broken = {
      getItem: () => {
        throw new Error('SecurityError')
      },
      setItem: () => {
        throw new Error('QuotaExceededError')
      },
      removeItem: () => {},
    }
    const p = page(gateway, { storage: broken })
    p.client.subscribe('agent:a')
    await until(() => p.client.state === 'open')
    await settle()
    gateway.publish('agent:a', agentStatus('a'))
    await settle()
    p.hide()
    expect(p.errors.length).toBeGreaterThan(0)
    for (const e of p.errors) expect(e.message).toMatch(/recovery data could not be saved: QuotaExceededError/)
    expect(p.client.state).toBe('open')
    p.client.close()

    const garbage = memoryStorage()
    for (const text of ['not json', '{"v":1,"user":null,"channels":[{"channel":"agent:a","epoch":"e1","seq":"3","state":{}}]}', '{"v":2}', '{"v":1,"user":null,"channels":[{"channel":"agent:*","epoch":"e1","seq":3,"state":{}}]}']) {
      garbage.items.set('k', text)
      const r = page(gateway, { storage: garbage, autoConnect: false, storageKey: 'k' })
      expect(r.client.getSnapshot().agents).toEqual({})
      r.client.close()
    }
  })
})
