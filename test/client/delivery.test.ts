import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'mock-socket'
import { createClient, ErrorCode, type WebSocketConstructor } from 'agentwire'
import { dialects, type Codec } from 'agentwire/protocol'
import { agentStatus } from './support/fake-gateway'
import { settle, setup, until } from './support/setup'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('auth', () => {
  it('a refused fixed token (4401) ends in unauthorized with no retry loop', async () => {
    const { gateway, client, states } = setup({ token: 'bad' }, { acceptToken: (t) => t === 'good' })
    await settle(100)
    expect(client.state).toBe('unauthorized')
    expect(states.at(-1)?.reason?.code).toBe(4401)
    await settle(60_000)
    expect(gateway.connections).toHaveLength(1)
    expect(vi.getTimerCount()).toBe(0)
    client.close()
  })

  it('a token function is asked on every connect; the token goes in hello, never in the URL', async () => {
    let calls = 0
    const { gateway, client } = setup({ token: async () => `tok-${++calls}` })
    await until(() => client.state === 'open')
    gateway.current!.close(1012)
    await until(() => client.state === 'open' && gateway.connections.length === 2)
    expect(calls).toBe(2)
    expect(gateway.framesOf('hello').map((h) => h.token)).toEqual(['tok-1', 'tok-2'])
    expect(gateway.url).not.toMatch(/tok/)
    client.close()
  })

  it('4401 with a token function: asked once more; the same token again stays unauthorized', async () => {
    let calls = 0
    const same = setup({ token: () => (calls++, 'stale') }, { acceptToken: (t) => t === 'fresh' })
    await settle(200)
    expect(same.client.state).toBe('unauthorized')
    expect(calls).toBe(2)
    expect(same.gateway.connections).toHaveLength(1) // the unchanged token was not even sent again
    same.client.close()

    const tokens = ['expired', 'fresh']
    const fresh = setup({ token: async () => tokens.shift() ?? 'fresh' }, { acceptToken: (t) => t === 'fresh' })
    await until(() => fresh.client.state === 'open')
    expect(fresh.gateway.framesOf('hello').map((h) => h.token)).toEqual(['expired', 'fresh'])
    fresh.client.close()
  })

  it('a refresh frame asks the token function and sends auth', async () => {
    let n = 0
    const { gateway, client } = setup({ token: () => `t${++n}` })
    await settle()
    gateway.current!.send({ type: 'refresh', expiresAt: Date.now() + 1000 })
    await settle()
    expect(gateway.framesOf('auth').map((f) => f.token)).toEqual(['t2'])
    client.close()
  })
})

describe('delivery', () => {
  it('resync: after the replay window is exceeded, a state frame (reason window) replaces the store and emits resync', async () => {
    const { gateway, client } = setup({}, { window: 2 })
    client.subscribe('agent:a')
    const resyncs: unknown[] = []
    const seen: number[] = []
    client.on('resync', (r) => resyncs.push(r))
    client.on('event', (_e, ctx) => seen.push(ctx.seq!))
    await settle()
    gateway.publish('agent:a', agentStatus('a', 'busy'))
    await settle()
    gateway.silence()
    for (let i = 0; i < 5; i++) gateway.publish('agent:a', agentStatus('a', i === 4 ? 'offline' : 'available', i))
    gateway.silence(false)
    gateway.current!.close(1006)
    await until(() => client.state === 'open' && gateway.connections.length === 2)
    await settle()
    expect(resyncs).toEqual([{ channel: 'agent:a', reason: 'window' }])
    expect(client.getSnapshot().agents.a).toMatchObject({ status: 'offline', load: 4 })
    gateway.publish('agent:a', agentStatus('a', 'busy'))
    await settle()
    expect(seen).toEqual([1, 7]) // nothing partial: the snapshot, then live from after it
    client.close()
  })

  it('the initial snapshot of a fresh subscribe fills the store without a resync', async () => {
    const { gateway, client } = setup()
    gateway.publish('agent:a', agentStatus('a', 'busy', 3))
    const resyncs: unknown[] = []
    client.on('resync', (r) => resyncs.push(r))
    client.subscribe('agent:a')
    await settle()
    expect(client.getSnapshot().agents.a).toMatchObject({ status: 'busy', load: 3 })
    expect(resyncs).toEqual([])
    client.close()
  })

  it('a handler that throws is reported on error and breaks neither the client nor the other handlers', async () => {
    const { gateway, client, errors } = setup()
    client.subscribe('agent:a')
    const seen: string[] = []
    client.on('agent.status', () => {
      throw new Error('boom')
    })
    const off = client.on('agent.status', (e) => seen.push(e.payload.name))
    client.on('event', (e) => seen.push(`any:${e.type}`))
    await settle()
    gateway.publish('agent:a', agentStatus('a'))
    await settle()
    expect(seen).toEqual(['a', 'any:agent.status'])
    expect(errors.map((e) => e.message)).toEqual(['a "agent.status" handler threw: boom'])
    off()
    gateway.publish('agent:a', agentStatus('a'))
    await settle()
    expect(seen).toEqual(['a', 'any:agent.status', 'any:agent.status'])
    expect(client.state).toBe('open')
    expect(() => client.on('agent.statuss' as 'agent.status', () => {})).toThrow(/unknown event/)
    client.close()
  })

  it('start(): the run is accepted, follows request:{id}, and resolves on request.completed', async () => {
    const { gateway, client } = setup()
    await settle()
    const run = client.start({ query: 'plan a trip', requestId: 'req-1' })
    await settle()
    await expect(run.accepted).resolves.toBeUndefined()
    expect(gateway.subscribedChannels(gateway.current!)).toEqual(['request:req-1'])
    gateway.publish('request:req-1', { type: 'request.started', payload: { requestId: 'req-1', query: 'plan a trip' } })
    gateway.publish('request:req-1', { type: 'request.completed', payload: { requestId: 'req-1', result: { ok: 1 } } })
    await settle()
    await expect(run.result).resolves.toEqual({ ok: 1 })
    expect(run.getState()?.status).toBe('completed')
    await settle()
    expect(gateway.framesOf('unsubscribe', gateway.current!).map((f) => f.channels)).toEqual([['request:req-1']])
    client.close()
  })

  it('start(): request.error rejects the result with a typed error', async () => {
    const { gateway, client } = setup()
    await settle()
    const run = client.start({ query: 'q', requestId: 'req-2' })
    await settle()
    gateway.publish('request:req-2', { type: 'request.error', payload: { requestId: 'req-2', message: 'agent crashed' } })
    await settle()
    await expect(run.result).rejects.toMatchObject({ code: ErrorCode.RequestFailed, message: 'agent crashed' })
    client.close()
  })

  it('rejoin(): resolves with the request state from the gateway snapshot and follows the request', async () => {
    const { gateway, client } = setup()
    gateway.publish('request:r9', { type: 'request.started', payload: { requestId: 'r9', query: 'q' } })
    await settle()
    let view: unknown
    void client.rejoin('r9').then((v) => (view = v))
    await until(() => view !== undefined)
    expect(view).toMatchObject({ id: 'r9', status: 'running', query: 'q' })
    expect(gateway.framesOf('subscribe', gateway.current!)).toHaveLength(0) // the rejoin alone made the gateway follow it
    const seen: string[] = []
    client.on('event', (e) => seen.push(e.type))
    gateway.publish('request:r9', { type: 'request.completed', payload: { requestId: 'r9', result: 1 } })
    await settle()
    expect(seen).toEqual(['request.completed'])
    client.close()
  })

  it('a backend without positions: delivered without dedupe, and resync (reconnect) for each channel after a reconnect', async () => {
    const native = dialects.agentwire
    const noPositions: Codec = { ...native, name: 'no-positions', capabilities: { ...native.capabilities, positions: false, resume: false } }
    const { gateway, client } = setup({ dialect: noPositions })
    client.subscribe('agent:a')
    const resyncs: unknown[] = []
    const seen: number[] = []
    client.on('resync', (r) => resyncs.push(r))
    client.on('event', (_e, ctx) => seen.push(ctx.seq ?? -1))
    await settle()
    gateway.publish('agent:a', agentStatus('a'))
    gateway.current!.send({ type: 'event', channel: 'agent:a', epoch: 'x', seq: 1, event: agentStatus('a') })
    await settle()
    expect(seen).toEqual([-1, -1])
    gateway.current!.close(1012)
    await until(() => client.state === 'open' && gateway.connections.length === 2)
    expect(resyncs).toEqual([{ channel: 'agent:a', reason: 'reconnect' }])
    client.close()
  })

  it("a handler's context has exactly the fields the frame gave: position and time, position alone, or neither", async () => {
    const native = dialects.agentwire
    const noPositions: Codec = { ...native, name: 'no-positions', capabilities: { ...native.capabilities, positions: false, resume: false } }
    for (const [dialect, want] of [
      [native, [{ channel: 'agent:a', replayed: false, seq: 1, epoch: 'e1', time: 5 }, { channel: 'agent:a', replayed: false, seq: 2, epoch: 'e1' }]],
      [noPositions, [{ channel: 'agent:a', replayed: false, time: 5 }, { channel: 'agent:a', replayed: false }]],
    ] as const) {
      const { gateway, client } = setup({ dialect })
      client.subscribe('agent:a')
      const contexts: unknown[] = []
      client.on('agent.status', (_e, ctx) => contexts.push({ ...ctx }))
      await settle()
      gateway.current!.send({ type: 'event', channel: 'agent:a', epoch: 'e1', seq: 1, time: 5, event: agentStatus('a') })
      gateway.current!.send({ type: 'event', channel: 'agent:a', epoch: 'e1', seq: 2, event: agentStatus('a') })
      await settle()
      expect(contexts).toStrictEqual(want)
      expect(contexts.map((c) => Object.keys(c as object))).toStrictEqual(want.map((c) => Object.keys(c)))
      client.close()
    }
  })

  it('misuse throws at once with what to do instead', () => {
    const saved = (globalThis as { WebSocket?: unknown }).WebSocket
    ;(globalThis as { WebSocket?: unknown }).WebSocket = undefined
    try {
      expect(() => createClient({ url: 'ws://x.test/ws', environment: null })).toThrow(/pass one as options\.WebSocket.*createNodeClient/i)
    } finally {
      ;(globalThis as { WebSocket?: unknown }).WebSocket = saved
    }
    const W = WebSocket as unknown as WebSocketConstructor
    expect(() => createClient({ url: '', WebSocket: W })).toThrow(/needs options\.url/)
    // A name the core does not know, as plain JavaScript would pass it.
    expect(() => createClient({ url: 'ws://x.test/ws', WebSocket: W, dialect: 'nope' as 'agentwire' })).toThrow(/unknown dialect "nope"/)
  })
})
