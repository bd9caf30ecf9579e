import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AgentwireError, ErrorCode } from 'agentwire'
import type { ClientFrame, SubscribeItem } from 'agentwire/protocol'
import { agentStatus, type FakeConnection } from './support/fake-gateway'
import { B, C, settle, setup, until } from './support/setup'

/**
 * RELIABILITY S7: a subscribe refused for now (overloaded, rate limited) is asked for again
 * with backoff until it is made; one refused for good (forbidden, invalid channel) is asked
 * for once, fails with the typed error, and the connection stays up.
 */

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

type Refusal = { code: string; retryable?: boolean }
const refusedItems = (channels: readonly SubscribeItem[], refusal: Refusal) =>
  channels.map((item) => ({ ok: false, channel: item.channel, error: { code: refusal.code, message: `subscribe refused: ${refusal.code}`, ...(refusal.retryable === undefined ? {} : { retryable: refusal.retryable }) } }))

/**
 * A gateway that refuses `channel`'s subscribe `times` times (Infinity: always), in the item
 * results of its reply (or of the welcome, for a hello), and records when each attempt came.
 */
function refusing(channel: string, refusal: Refusal, times: number, how: 'items' | 'frame' = 'items') {
  const attempts: number[] = []
  let left = times
  const onFrame = (f: ClientFrame, c: FakeConnection) => {
    const items = f.type === 'subscribe' ? f.channels : f.type === 'hello' ? (f.resume ?? []) : []
    if (!items.some((i) => i.channel === channel)) return undefined
    attempts.push(Date.now())
    if (left <= 0) return undefined
    left--
    if (f.type === 'hello') {
      c.send({ type: 'welcome', v: 1, session: 's', heartbeatMs: 25_000, subscriptions: refusedItems(items, refusal) })
    } else if (how === 'frame' && f.type === 'subscribe') {
      c.send({ type: 'reply', id: f.id, ok: false, error: { code: refusal.code, message: `subscribe refused: ${refusal.code}` } })
    } else if (f.type === 'subscribe') {
      c.send({ type: 'reply', id: f.id, ok: true, result: { subscriptions: refusedItems(items, refusal) } })
    }
    return false
  }
  return { attempts, onFrame }
}

describe('S7: subscribe refusals', () => {
  for (const [code, how] of [
    [ErrorCode.Overloaded, 'items'],
    [ErrorCode.RateLimited, 'items'],
    [ErrorCode.Overloaded, 'frame'],
  ] as const) {
    it(`a temporary refusal (${code}, in the ${how === 'items' ? 'item result' : 'whole reply'}) is retried with backoff until it is subscribed`, async () => {
      const gate = refusing('agent:a', { code }, 3, how)
      const { gateway, client, errors } = setup({}, { onFrame: gate.onFrame })
      await until(() => client.state === 'open')
      const sub = client.subscribe('agent:a')
      let ready: 'pending' | 'resolved' | 'rejected' = 'pending'
      sub.ready.then(
        () => (ready = 'resolved'),
        () => (ready = 'rejected'),
      )
      await until(() => gate.attempts.length === 1)
      await settle()
      // Still wanted, waiting to ask again: not failed, and `ready` waits for the outcome.
      expect(sub.status).toBe('subscribing')
      expect(sub.error).toMatchObject({ code, retryable: true })
      expect(ready).toBe('pending')

      await until(() => sub.status === 'subscribed', 30 * C)
      expect(ready).toBe('resolved')
      expect(sub.error).toBeUndefined()
      expect(gate.attempts).toHaveLength(4) // three refusals, then the one that took
      // Backoff: never sooner than the initial delay after the refusal (fake time, exact).
      for (let i = 1; i < gate.attempts.length; i++) expect(gate.attempts[i]! - gate.attempts[i - 1]!).toBeGreaterThanOrEqual(B)
      expect(errors.map((e) => (e as AgentwireError).code)).toEqual([code, code, code])
      // The connection never went down for it, and the channel flows.
      expect(gateway.connections).toHaveLength(1)
      expect(client.state).toBe('open')
      gateway.publish('agent:a', agentStatus('a', 'busy', 0.5))
      await settle()
      expect(client.getSnapshot().agents.a).toMatchObject({ status: 'busy', load: 0.5 })
      client.close()
    })
  }

  it('a temporary refusal in the welcome (a subscription made before the connection opened) is retried too', async () => {
    const gate = refusing('agent:a', { code: ErrorCode.Overloaded }, 1)
    const { gateway, client } = setup({}, { onFrame: gate.onFrame })
    const sub = client.subscribe('agent:a')
    await until(() => sub.status === 'subscribed', 30 * C)
    await expect(sub.ready).resolves.toBeUndefined()
    expect(gateway.framesOf('hello')).toHaveLength(1)
    expect(gateway.framesOf('subscribe').map((f) => f.channels.map((i) => i.channel))).toEqual([['agent:a']])
    client.close()
  })

  it('a retry pending when the connection drops is superseded by the resubscribe on the new one: asked once there', async () => {
    const gate = refusing('agent:a', { code: ErrorCode.Overloaded }, 1)
    const { gateway, client } = setup({ reconnect: { initialDelayMs: B, maxDelayMs: B } }, { onFrame: gate.onFrame })
    await until(() => client.state === 'open')
    const sub = client.subscribe('agent:a')
    await until(() => gate.attempts.length === 1)
    await settle(5)
    gateway.current!.close(1012)
    await until(() => client.state === 'open' && gateway.connections.length === 2)
    await settle(10 * C)
    expect(sub.status).toBe('subscribed')
    expect(gateway.subscribedChannels(gateway.connections[1]!)).toEqual(['agent:a'])
    client.close()
  })

  for (const code of [ErrorCode.Forbidden, ErrorCode.InvalidChannel]) {
    it(`a permanent refusal (${code}) is asked once: failed, ready rejects with the typed error, the connection stays up`, async () => {
      const gate = refusing('agent:secret', { code }, Infinity)
      const { gateway, client, errors } = setup({}, { onFrame: gate.onFrame })
      await until(() => client.state === 'open')
      const ok = client.subscribe('agent:a')
      const sub = client.subscribe('agent:secret')
      await until(() => sub.status === 'failed')
      await expect(sub.ready).rejects.toBeInstanceOf(AgentwireError)
      await expect(sub.ready).rejects.toMatchObject({ code, retryable: false })
      expect(sub.status).toBe('failed')
      expect(sub.error).toMatchObject({ code })
      expect(errors.map((e) => (e as AgentwireError).code)).toEqual([code])
      await expect(ok.ready).resolves.toBeUndefined()

      await settle(10 * C)
      expect(gate.attempts).toHaveLength(1)
      expect(client.state).toBe('open')
      expect(gateway.connections).toHaveLength(1)

      // Not even a new connection asks again.
      gateway.current!.close(1012)
      await until(() => client.state === 'open' && gateway.connections.length === 2)
      await settle(10 * C)
      expect(gate.attempts).toHaveLength(1)
      expect(gateway.subscribedChannels(gateway.connections[1]!)).toEqual(['agent:a'])
      expect(sub.status).toBe('failed')
      client.close()
    })
  }

  it('a refusal that says it is retryable is retried whatever its code; one that says it is not is not', async () => {
    const temporary = refusing('agent:a', { code: 'busy_shard', retryable: true }, 1)
    const a = setup({}, { onFrame: temporary.onFrame })
    const subA = a.client.subscribe('agent:a')
    await until(() => subA.status === 'subscribed', 30 * C)
    expect(temporary.attempts).toHaveLength(2)
    a.client.close()

    const permanent = refusing('agent:b', { code: ErrorCode.Overloaded, retryable: false }, Infinity)
    const b = setup({}, { onFrame: permanent.onFrame })
    const subB = b.client.subscribe('agent:b')
    await until(() => subB.status === 'failed')
    await expect(subB.ready).rejects.toMatchObject({ code: ErrorCode.Overloaded })
    await settle(10 * C)
    expect(permanent.attempts).toHaveLength(1)
    b.client.close()
  })

  it('close() while a retry waits leaves no timer', async () => {
    const gate = refusing('agent:a', { code: ErrorCode.Overloaded }, Infinity)
    const { client } = setup({ reconnect: { initialDelayMs: 10 * C, maxDelayMs: 10 * C } }, { onFrame: gate.onFrame })
    await until(() => client.state === 'open')
    client.subscribe('agent:a')
    await until(() => gate.attempts.length === 1)
    await settle()
    client.close()
    await settle(100) // the socket's own close; the retry, 10 s away, would still be counted
    expect(vi.getTimerCount()).toBe(0)
  })
})
