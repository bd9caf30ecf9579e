import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { dialects, type AgentEvent, type Capabilities, type Codec } from 'agentwire/protocol'
import type { ResyncInfo } from 'agentwire'
import { agentStatus } from './support/fake-gateway'
import { settle, setup, until } from './support/setup'

/**
 * Backends that answer nothing (the seeds routing, webgui, rooms, progress, forge: no
 * handshake, so no replies): the native codec with their capabilities, against the fake
 * gateway, whose replies a test swallows where the backend would send none.
 */
const native = dialects.agentwire
const withCaps = (name: string, caps: Partial<Capabilities>): Codec => ({ ...native, name, capabilities: { ...native.capabilities, ...caps } })
/** webgui/rooms-like: server-side subscribe, commands, but no handshake and no replies. */
const noReplies = withCaps('no-replies', { handshake: false })
/** progress-like: no handshake, no server-side subscribe, no log to resume from, but rejoin → state. */
const progressLike = withCaps('progress-like', { handshake: false, serverSubscribe: false, resume: false, positions: false, heartbeat: 'none' })

/** The gateway receives and records every frame but answers only pings, as a backend without replies. */
const silentExceptPings = { onFrame: (f: { type: string }) => (f.type === 'ping' ? undefined : false) }

const started = (requestId: string): AgentEvent => ({ type: 'request.started', payload: { requestId, query: 'plan a trip' } })
const step = (requestId: string, n: number, status: 'running' | 'completed'): AgentEvent => ({
  type: 'step.progress',
  payload: { requestId, agent: 'executor', step: n, status },
})

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('a backend without replies', () => {
  it('a command resolves once it is sent and is not sent again after a reconnect', async () => {
    const { gateway, client, errors } = setup({ dialect: noReplies }, silentExceptPings)
    await until(() => client.state === 'open')
    expect(gateway.framesOf('hello')).toHaveLength(0) // no handshake: the open socket is the connection

    const run = client.start({ query: 'plan a trip', requestId: 'req-1' })
    run.result.catch(() => {})
    const done = [run.accepted, client.cancel('req-1', 'changed my mind'), client.feedback('req-1', 'q1', 'yes')]
    client.ack('chat:c1', 3, { messageId: 'm1' })
    await settle()
    await expect(Promise.all(done)).resolves.toEqual([undefined, undefined, undefined])

    gateway.current!.close(1012)
    await until(() => client.state === 'open' && gateway.connections.length === 2)
    await settle(5 * 250)
    // Sent once, on the first connection only: a non-idempotent backend applies each once.
    for (const type of ['start', 'cancel', 'feedback', 'ack'] as const) {
      expect(gateway.framesOf(type, gateway.connections[0]!), type).toHaveLength(1)
      expect(gateway.framesOf(type, gateway.connections[1]!), type).toHaveLength(0)
    }
    expect(errors).toEqual([]) // no reply timeouts
    client.close()
  })

  it('a command made while disconnected waits, goes out once on the next connection, and resolves then', async () => {
    const { gateway, client } = setup({ dialect: noReplies, reconnect: { initialDelayMs: 500, maxDelayMs: 500 } }, silentExceptPings)
    await until(() => client.state === 'open')
    gateway.current!.close(1006)
    await settle(5)
    expect(client.state).toBe('reconnecting')
    let resolved = false
    const cancelled = client.cancel('req-1').then(() => (resolved = true))
    await settle(100)
    expect(resolved).toBe(false)
    await until(() => client.state === 'open')
    await settle()
    await expect(cancelled).resolves.toBe(true)
    expect(gateway.framesOf('cancel').map((f) => f.requestId)).toEqual(['req-1'])
    expect(gateway.framesOf('cancel', gateway.connections[1]!)).toHaveLength(1)
    client.close()
  })

  it('a subscription is subscribed once its frame is sent, and is subscribed again on each new connection', async () => {
    const { gateway, client } = setup({ dialect: noReplies }, silentExceptPings)
    await until(() => client.state === 'open')
    const sub = client.subscribe('agent:a')
    await settle()
    await expect(sub.ready).resolves.toBeUndefined()
    expect(sub.status).toBe('subscribed')
    expect(gateway.subscribedChannels(gateway.current!)).toEqual(['agent:a'])

    gateway.current!.close(1012)
    await until(() => client.state === 'open' && gateway.connections.length === 2)
    await settle()
    expect(sub.status).toBe('subscribed')
    expect(gateway.subscribedChannels(gateway.current!)).toEqual(['agent:a'])
    // A subscription made before the connection opened is sent, and made, on opening.
    const later = client.subscribe('agent:b')
    gateway.current!.close(1012)
    await until(() => client.state === 'open' && gateway.connections.length === 3)
    await settle()
    await expect(later.ready).resolves.toBeUndefined()
    expect(gateway.subscribedChannels(gateway.current!).sort()).toEqual(['agent:a', 'agent:b'])
    client.close()
  })

  it('with rejoin and no resume, the client rejoins the request it follows after a reconnect and the state answer restores it', async () => {
    const { gateway, client } = setup(
      { dialect: progressLike },
      {
        // As the progress seed does: the socket that starts a request is in that request's room.
        onFrame: (f, c) => {
          if (f.type === 'start') c.subscriptions.add(`request:${f.requestId}`)
        },
      },
    )
    const resyncs: ResyncInfo[] = []
    client.on('resync', (info) => resyncs.push(info))
    await until(() => client.state === 'open')
    const run = client.start({ query: 'plan a trip', requestId: 'req-1' })
    await expect(run.accepted).resolves.toBeUndefined()
    await settle()
    gateway.publish('request:req-1', started('req-1'))
    gateway.publish('request:req-1', step('req-1', 1, 'running'))
    await settle()
    expect(run.getState()?.steps.map((s) => s.step)).toEqual([1])
    expect(gateway.framesOf('rejoin')).toHaveLength(0) // nothing to rejoin on the first connection

    gateway.current!.close(1006)
    await settle(5)
    expect(client.state).toBe('reconnecting')
    // While the client is away the request moves on; these live events never reach it.
    gateway.publish('request:req-1', step('req-1', 1, 'completed'))
    gateway.publish('request:req-1', step('req-1', 2, 'completed'))
    gateway.publish('request:req-1', { type: 'request.completed', payload: { requestId: 'req-1', result: { answer: 42 } } })

    await until(() => client.state === 'open' && gateway.connections.length === 2)
    await settle()
    expect(gateway.framesOf('rejoin', gateway.connections[1]!).map((f) => f.requestId)).toEqual(['req-1'])
    await expect(run.result).resolves.toEqual({ answer: 42 })
    expect(client.getSnapshot().requests['req-1']).toMatchObject({
      status: 'completed',
      steps: [expect.objectContaining({ step: 1, status: 'completed' }), expect.objectContaining({ step: 2, status: 'completed' })],
      result: { answer: 42 },
    })
    // Still said: the live events of the gap were not delivered to handlers.
    expect(resyncs).toEqual([{ channel: 'request:req-1', reason: 'reconnect' }])
    expect(gateway.framesOf('start')).toHaveLength(1)
    client.close()
  })

  it('a plain subscription to request:{id} is rejoined too; a pattern is not', async () => {
    const { gateway, client } = setup({ dialect: progressLike })
    await until(() => client.state === 'open')
    client.subscribe('request:r7')
    client.subscribe('request:*')
    await settle()
    gateway.current!.close(1012)
    await until(() => client.state === 'open' && gateway.connections.length === 2)
    await settle()
    expect(gateway.framesOf('rejoin').map((f) => f.requestId)).toEqual(['r7'])
    client.close()
  })

  it('a rejoin() the app made while disconnected is not doubled by the automatic one', async () => {
    const { gateway, client } = setup({ dialect: progressLike, reconnect: { initialDelayMs: 500, maxDelayMs: 500 } })
    await until(() => client.state === 'open')
    client.subscribe('request:r8')
    await settle()
    gateway.current!.close(1006)
    await settle(5)
    expect(client.state).toBe('reconnecting')
    gateway.publish('request:r8', started('r8'))
    const view = client.rejoin('r8')
    await until(() => client.state === 'open' && gateway.connections.length === 2)
    await settle()
    await expect(view).resolves.toMatchObject({ id: 'r8', status: 'running' })
    expect(gateway.framesOf('rejoin').map((f) => f.requestId)).toEqual(['r8'])
    client.close()
  })

  it('a backend that resumes is not rejoined: replay from its position is the recovery', async () => {
    const { gateway, client } = setup()
    await settle()
    const run = client.start({ query: 'q', requestId: 'req-2' })
    await settle()
    gateway.publish('request:req-2', started('req-2'))
    await settle()
    gateway.current!.close(1012)
    await until(() => client.state === 'open' && gateway.connections.length === 2)
    gateway.publish('request:req-2', { type: 'request.completed', payload: { requestId: 'req-2', result: 1 } })
    await expect(run.result).resolves.toBe(1)
    expect(gateway.framesOf('rejoin')).toHaveLength(0)
    client.close()
  })

  it('events still reach the store on a backend without replies (sanity)', async () => {
    const { gateway, client } = setup({ dialect: noReplies }, { onFrame: (f, c) => (f.type === 'subscribe' ? (c.subscriptions.add('agent:a'), false) : undefined) })
    await until(() => client.state === 'open')
    await client.subscribe('agent:a').ready
    await settle() // sent is not received: the frame is still on its way to the backend
    gateway.publish('agent:a', agentStatus('a', 'busy', 0.5))
    await settle()
    expect(client.getSnapshot().agents.a).toMatchObject({ status: 'busy', load: 0.5 })
    client.close()
  })
})
