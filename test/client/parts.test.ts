import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CloseCode, ErrorCode, type ClientFrame } from 'agentwire/protocol'
import type { Connection } from '../../src/client/connection'
import { createCore } from '../../src/client/core'
import type { ConnectionState } from '../../src/client/machine'
import { createRequests } from '../../src/client/requests'
import { createWireSubscriptions } from '../../src/client/wire'

// The client's parts through their own interfaces, with a scripted connection: no socket, no
// machine. The scenarios through the public API are in the other files of this folder.

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

function fakeConnection(initial: ConnectionState = { status: 'open', generation: 1, attempt: 0, openedAt: 0 }) {
  const sent: ClientFrame[] = []
  let state = initial
  const connection: Connection = {
    get state() {
      return state
    },
    dispatch: () => {},
    send: (frame) => (sent.push(frame), true),
    alive: () => state.status === 'open',
    received: () => {},
    refreshToken: () => {},
    connect: () => {},
  }
  return { connection, sent, set: (next: ConnectionState) => (state = next) }
}

const core = (over: Record<string, unknown> = {}) =>
  createCore({ url: 'ws://parts.test/ws', environment: null, requestTimeoutMs: 1000, reconnect: { initialDelayMs: 50, maxDelayMs: 1000 }, ...over })

describe('wire subscriptions', () => {
  it('two handles on one channel send one subscribe; the reply subscribes both; only the last release sends an unsubscribe', () => {
    const { connection, sent } = fakeConnection()
    const wire = createWireSubscriptions(core(), connection, () => {})
    const one = wire.subscribe('agent:a', false)
    const two = wire.subscribe('agent:a', false)
    const subscribe = sent.filter((f) => f.type === 'subscribe')
    expect(subscribe).toHaveLength(1)
    expect(one.status).toBe('subscribing')
    expect(wire.reply({ type: 'reply', id: subscribe[0]!.id, ok: true }, 1)).toBe(true)
    expect(two.status).toBe('subscribed')
    one.unsubscribe()
    expect(sent.filter((f) => f.type === 'unsubscribe')).toHaveLength(0)
    two.unsubscribe()
    expect(sent.filter((f) => f.type === 'unsubscribe').map((f) => f.type === 'unsubscribe' && f.channels)).toEqual([['agent:a']])
  })

  it('a temporary refusal is asked again after a backoff; a permanent one fails the subscription and is handed to failed()', async () => {
    const { connection, sent } = fakeConnection()
    const failed: string[] = []
    const wire = createWireSubscriptions(core(), connection, (channel) => failed.push(channel))
    const busy = wire.subscribe('agent:a', false)
    wire.reply({ type: 'reply', id: sent[0]!.type === 'subscribe' ? sent[0]!.id : '', ok: false, error: { code: ErrorCode.Overloaded, message: 'busy', retryable: true } }, 1)
    expect(busy.status).toBe('subscribing')
    await vi.advanceTimersByTimeAsync(1000)
    expect(sent.filter((f) => f.type === 'subscribe')).toHaveLength(2)
    const denied = wire.subscribe('user:bob', false)
    const last = sent.at(-1)!
    wire.reply({ type: 'reply', id: last.type === 'subscribe' ? last.id : '', ok: false, error: { code: ErrorCode.Forbidden, message: 'no' } }, 1)
    expect(denied.status).toBe('failed')
    await expect(denied.ready).rejects.toMatchObject({ code: ErrorCode.Forbidden })
    expect(failed).toEqual(['user:bob'])
  })

  it('a subscribe that is never answered counts as a temporary refusal and is asked again', async () => {
    const { connection, sent } = fakeConnection()
    const wire = createWireSubscriptions(core(), connection, () => {})
    const sub = wire.subscribe('agent:a', false)
    await vi.advanceTimersByTimeAsync(1000) // requestTimeoutMs: no answer
    expect(sub.error?.code).toBe(ErrorCode.Timeout)
    await vi.advanceTimersByTimeAsync(1000)
    expect(sent.filter((f) => f.type === 'subscribe')).toHaveLength(2)
  })

  it('a channel released while its hello awaits the welcome is unsubscribed once the connection is ready', () => {
    const { connection, sent, set } = fakeConnection({ status: 'connecting', generation: 1, attempt: 0, phase: 'handshake', authRetry: false })
    const wire = createWireSubscriptions(core(), connection, () => {})
    const sub = wire.subscribe('agent:a', false)
    expect(wire.resumeItems(1)).toEqual([{ channel: 'agent:a' }])
    sub.unsubscribe()
    expect(sent).toHaveLength(0)
    set({ status: 'open', generation: 1, attempt: 0, openedAt: 0 })
    wire.ready(1)
    expect(sent.map((f) => f.type === 'unsubscribe' && f.channels)).toEqual([['agent:a']])
  })
})

describe('requests', () => {
  const setup = () => {
    const c = core()
    const { connection, sent, set } = fakeConnection()
    const wire = createWireSubscriptions(c, connection, () => {})
    const requests = createRequests(c, connection, wire, (channel, viaRejoin) => wire.subscribe(channel, viaRejoin))
    return { requests, sent, set }
  }
  const closedBy = (code: number, generation: number): ConnectionState => ({
    status: 'reconnecting',
    generation,
    attempt: 1,
    dueAt: 0,
    lastClose: { code, reason: 'x' },
  })

  it('a command in flight across two closes with the same frame-related code is rejected with that cause', async () => {
    const { requests, sent, set } = setup()
    const accepted = requests.command({ type: 'cancel', id: 'c-1', requestId: 'r-1' })
    expect(sent.map((f) => f.type)).toEqual(['cancel'])
    set(closedBy(CloseCode.MessageTooBig, 1))
    requests.lost()
    set({ status: 'open', generation: 2, attempt: 1, openedAt: 0 })
    requests.flush()
    expect(sent.map((f) => f.type)).toEqual(['cancel', 'cancel'])
    set(closedBy(CloseCode.MessageTooBig, 2))
    requests.lost()
    await expect(accepted).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge, message: expect.stringMatching(/close 1009/) })
    set({ status: 'open', generation: 3, attempt: 1, openedAt: 0 })
    requests.flush()
    expect(sent).toHaveLength(2)
  })

  it('closes for different causes, or for causes that are not the command (a restart), never reject it', () => {
    const { requests, sent, set } = setup()
    const accepted = requests.command({ type: 'cancel', id: 'c-1', requestId: 'r-1' })
    let settled = false
    accepted.then(
      () => (settled = true),
      () => (settled = true),
    )
    const codes = [CloseCode.MessageTooBig, CloseCode.RateLimited, CloseCode.ServiceRestart, CloseCode.ServiceRestart, CloseCode.Abnormal, CloseCode.Abnormal]
    codes.forEach((code, i) => {
      set(closedBy(code, i + 1))
      requests.lost()
      set({ status: 'open', generation: i + 2, attempt: 1, openedAt: 0 })
      requests.flush()
    })
    expect(sent.filter((f) => f.type === 'cancel')).toHaveLength(codes.length + 1)
    requests.reply({ type: 'reply', id: 'c-1', ok: true })
    return accepted.then(() => expect(settled).toBe(true))
  })

  it("a command over the welcome's maxPayload is rejected at once; a welcome without limits lifts the check", async () => {
    const { requests, sent } = setup()
    requests.limits({ maxPayload: 200 })
    await expect(requests.command({ type: 'feedback', id: 'f-1', requestId: 'r-1', questionId: 'q', answer: 'é'.repeat(100) })).rejects.toMatchObject({
      code: ErrorCode.PayloadTooLarge,
    })
    expect(sent).toHaveLength(0)
    requests.limits(undefined)
    void requests.command({ type: 'feedback', id: 'f-2', requestId: 'r-1', questionId: 'q', answer: 'é'.repeat(100) })
    expect(sent.map((f) => f.type)).toEqual(['feedback'])
  })
})
