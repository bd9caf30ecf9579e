import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'mock-socket'
import { createClient, ErrorCode, type AgentwireError, type Client, type ClientOptions, type WebSocketConstructor } from 'agentwire'
import type { FakeGateway } from './support/fake-gateway'
import { B, C, H, T, fakeEnvironment, settle, setup, until } from './support/setup'
import { recovery } from 'agentwire/recovery'
import { memoryStorage } from '../support/storage'

/**
 * Steering survives a reload: a cancel or a feedback made while offline (or whose reply the
 * reload cut off) is kept in `storage` and sent once by the next page's client, with its id.
 * A "reload" is the old client left behind offline (its page is gone: it never runs again)
 * and a new one made on the same storage.
 */

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})


function page(gateway: FakeGateway, options: Partial<ClientOptions> = {}) {
  const env = fakeEnvironment()
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
  client.on('error', (e) => errors.push(e))
  /** The page is gone: offline for good, so it never sends again. */
  const die = () => {
    env.navigator.onLine = false
    env.fire('offline')
  }
  return { client, env, errors, die }
}

/** Advances fake time until `promise` settles; its outcome. */
async function outcome(promise: Promise<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; error: AgentwireError }> {
  let result: { ok: true; value: unknown } | { ok: false; error: AgentwireError } | undefined
  promise.then(
    (value) => (result = { ok: true, value }),
    (error: AgentwireError) => (result = { ok: false, error }),
  )
  await until(() => result !== undefined, 10_000)
  return result!
}

const steeringKey = (gateway: FakeGateway) => `agentwire:${gateway.url.replace(/\?.*$/, '')}#default:steering`
const storedIds = (storage: ReturnType<typeof memoryStorage>, gateway: FakeGateway): string[] => {
  const text = storage.items.get(steeringKey(gateway))
  return text === undefined ? [] : (JSON.parse(text) as { commands: { frame: { id: string } }[] }).commands.map((c) => c.frame.id)
}

describe('steering across a reload', () => {
  it('a feedback and a cancel made offline are sent by the reloaded page with their ids, once, and leave storage when answered', async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false })
    const first = page(gateway, { storage, autoConnect: false, user: 'alice' })
    void first.client.feedback('r-1', 'q-1', { choice: 'yes' }).catch(() => {})
    void first.client.cancel('r-2', 'not needed').catch(() => {})
    expect(storedIds(storage, gateway)).toHaveLength(2)
    const [feedbackId, cancelId] = storedIds(storage, gateway)

    const second = page(gateway, { storage, user: 'alice' })
    const restored = second.client.restoredCommands()
    expect(restored.map((c) => [c.type, c.id, c.requestId, c.questionId])).toEqual([
      ['feedback', feedbackId, 'r-1', 'q-1'],
      ['cancel', cancelId, 'r-2', undefined],
    ])
    await until(() => second.client.state === 'open')
    for (const c of restored) expect(await outcome(c.result)).toEqual({ ok: true, value: undefined })
    expect(gateway.framesOf('feedback')).toEqual([{ type: 'feedback', id: feedbackId, requestId: 'r-1', questionId: 'q-1', answer: { choice: 'yes' } }])
    expect(gateway.framesOf('cancel')).toEqual([{ type: 'cancel', id: cancelId, requestId: 'r-2', reason: 'not needed' }])
    expect(storedIds(storage, gateway)).toEqual([])
    expect(second.errors).toEqual([])

    // A third page has nothing left to send.
    second.die()
    const third = page(gateway, { storage, user: 'alice' })
    expect(third.client.restoredCommands()).toEqual([])
    await until(() => third.client.state === 'open')
    await settle()
    expect(gateway.framesOf('feedback')).toHaveLength(1)
    third.client.close()
  })

  it('a feedback whose reply the reload cut off is sent again with the same id and applied once', async () => {
    const storage = memoryStorage()
    let first!: ReturnType<typeof page>
    const { gateway } = setup(
      { autoConnect: false },
      {
        // The gateway applies the first page's feedback, and the page dies before the reply reaches it.
        onFrame: (frame, connection) => {
          if (frame.type === 'feedback' && connection.index === 0) first.die()
        },
      },
    )
    first = page(gateway, { storage })
    await until(() => first.client.state === 'open')
    const answered = first.client.feedback('r-1', 'q-1', 42)
    answered.catch(() => {})
    await until(() => first.client.state === 'offline')
    await settle()
    expect(gateway.appliedCommands.filter((f) => f.type === 'feedback')).toHaveLength(1)
    expect(storedIds(storage, gateway)).toHaveLength(1)

    const second = page(gateway, { storage })
    const [restored] = second.client.restoredCommands()
    await until(() => second.client.state === 'open')
    expect(await outcome(restored!.result)).toEqual({ ok: true, value: undefined })
    const sent = gateway.framesOf('feedback')
    expect(sent).toHaveLength(2)
    expect(sent[1]!.id).toBe(sent[0]!.id)
    expect(gateway.applied.get(sent[0]!.id)).toBe(1)
    expect(gateway.appliedCommands.filter((f) => f.type === 'feedback')).toHaveLength(1)
    expect(storedIds(storage, gateway)).toEqual([])
    second.client.close()
  })

  it("another user's stored steering is never sent, and leaves the storage", async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false })
    const alice = page(gateway, { storage, autoConnect: false, user: 'alice' })
    void alice.client.cancel('r-1').catch(() => {})
    expect(storedIds(storage, gateway)).toHaveLength(1)

    const bob = page(gateway, { storage, user: 'bob' })
    expect(bob.client.restoredCommands()).toEqual([])
    expect(storage.items.has(steeringKey(gateway))).toBe(false)
    await until(() => bob.client.state === 'open')
    await settle()
    expect(gateway.framesOf('cancel')).toEqual([])
    bob.client.close()
  })

  it('an entry older than steering.ttlMs is not sent: rejected with expired on error and in restoredCommands', async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false })
    const first = page(gateway, { storage, autoConnect: false })
    void first.client.feedback('r-1', 'q-1', 'late').catch(() => {})
    void first.client.cancel('r-2').catch(() => {})
    await vi.advanceTimersByTimeAsync(30_000)
    // A newer one, made 30 s later, is still fresh.
    void first.client.cancel('r-3').catch(() => {})
    await vi.advanceTimersByTimeAsync(45_000)

    const second = page(gateway, { storage, steering: { ttlMs: 60_000 } })
    const restored = second.client.restoredCommands()
    expect(restored.map((c) => c.requestId)).toEqual(['r-1', 'r-2', 'r-3'])
    await expect(restored[0]!.result).rejects.toMatchObject({ code: ErrorCode.Expired, retryable: false })
    await expect(restored[1]!.result).rejects.toMatchObject({ code: ErrorCode.Expired })
    await settle()
    // Reported where an app listens, after createClient returned.
    expect(second.errors.map((e) => e.code)).toEqual([ErrorCode.Expired, ErrorCode.Expired])
    expect(second.errors[0]!.message).toMatch(/question "q-1" of request "r-1", made 75 s ago before a reload, was not sent: older than steering\.ttlMs \(60000 ms\)/)
    await until(() => second.client.state === 'open')
    expect(await outcome(restored[2]!.result)).toEqual({ ok: true, value: undefined })
    expect(gateway.framesOf('feedback')).toEqual([])
    expect(gateway.framesOf('cancel').map((f) => f.requestId)).toEqual(['r-3'])
    expect(storedIds(storage, gateway)).toEqual([])
    second.client.close()
  })

  it("a restored entry older than the gateway's idempotencyTtlMs (from welcome) is not sent: it could run twice", async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false }, { limits: { idempotencyTtlMs: 10_000 } })
    const first = page(gateway, { storage, autoConnect: false })
    void first.client.cancel('r-1').catch(() => {})
    await vi.advanceTimersByTimeAsync(20_000)

    const second = page(gateway, { storage })
    const [restored] = second.client.restoredCommands()
    const result = await outcome(restored!.result)
    expect(result).toMatchObject({ ok: false, error: { code: ErrorCode.Expired, message: expect.stringMatching(/idempotencyTtlMs/) } })
    expect(second.errors.map((e) => e.code)).toEqual([ErrorCode.Expired])
    expect(gateway.framesOf('cancel')).toEqual([])
    // Commands made on this page are not held to it.
    expect(await outcome(second.client.cancel('r-2'))).toEqual({ ok: true, value: undefined })
    second.client.close()
  })

  it('bounded: past maxCommands or maxLength a command is not stored (reported) but still sent', async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false })
    const first = page(gateway, { storage, autoConnect: false, steering: { maxCommands: 2, maxLength: 1000 } })
    for (const id of ['r-1', 'r-2', 'r-3']) void first.client.cancel(id).catch(() => {})
    void first.client.feedback('r-4', 'q', 'x'.repeat(2000)).catch(() => {})
    expect(storedIds(storage, gateway)).toHaveLength(2)
    expect(storage.items.get(steeringKey(gateway))!.length).toBeLessThanOrEqual(1000)
    expect(first.errors.map((e) => e.code)).toEqual([ErrorCode.OutboxFull, ErrorCode.OutboxFull])
    expect(first.errors[0]!.message).toMatch(/will not survive a reload/)
    first.client.connect()
    await until(() => first.client.state === 'open')
    await settle()
    expect(gateway.framesOf('cancel')).toHaveLength(3)
    expect(gateway.framesOf('feedback')).toHaveLength(1)
    expect(storedIds(storage, gateway)).toEqual([])
    first.client.close()
  })

  it('close() settles what is pending and stores nothing for the next page; steering: false stores nothing at all', async () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false })
    const first = page(gateway, { storage, autoConnect: false })
    const pending = first.client.cancel('r-1')
    expect(storedIds(storage, gateway)).toHaveLength(1)
    first.client.close()
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.Closed })
    expect(storedIds(storage, gateway)).toEqual([])

    const off = page(gateway, { storage, autoConnect: false, steering: false })
    void off.client.cancel('r-2').catch(() => {})
    expect(storage.items.has(steeringKey(gateway))).toBe(false)
    expect(off.client.restoredCommands()).toEqual([])
    off.client.close()
  })

  it('a stored record that does not read is ignored, as input from anywhere else is', () => {
    const storage = memoryStorage()
    const { gateway } = setup({ autoConnect: false })
    storage.items.set(
      steeringKey(gateway),
      JSON.stringify({
        v: 1,
        user: null,
        commands: [{ at: 1, frame: { type: 'start', id: 'x', requestId: 'r' } }, { at: 'soon', frame: { type: 'cancel', id: 'y', requestId: 'r' } }, { frame: null }, 7],
      }),
    )
    const next = page(gateway, { storage, autoConnect: false })
    expect(next.client.restoredCommands()).toEqual([])
    storage.items.set(steeringKey(gateway), '{not json')
    expect(page(gateway, { storage, autoConnect: false }).client.restoredCommands()).toEqual([])
  })
})
