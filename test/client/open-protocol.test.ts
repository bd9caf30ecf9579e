import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import * as z from 'zod'
import { serializeState, initialState, defineCommands, defineEvents } from 'agentwire/protocol'
import { agentStatus } from './support/fake-gateway'
import { recovery } from 'agentwire/recovery'
import { fakeEnvironment, settle, setup } from './support/setup'
import { memoryStorage } from '../support/storage'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

const events = defineEvents({
  'deploy.finished': z.object({ service: z.string(), ok: z.boolean() }),
})
  .reducer('deploys', {
    initial: { total: 0, failed: [] as string[] },
    reduce: (s, e) => (e.type !== 'deploy.finished' ? s : { total: s.total + 1, failed: e.payload.ok ? s.failed : [...s.failed, e.payload.service] }),
  })
  // Reducers see built-in events too.
  .reducer('busy', { initial: 0, reduce: (n, e) => (e.type === 'agent.status' && e.payload.status === 'busy' ? n + 1 : n) })
  .reducer('fragile', {
    initial: 'ok',
    reduce: (s, e) => {
      if (e.type === 'deploy.finished' && e.payload.service === 'boom') throw new Error('reducer bug')
      return s
    },
  })
const commands = defineCommands({
  pause: { payload: z.object({ agent: z.string() }), result: z.object({ paused: z.string() }) },
})
const deploy = (service: string, ok = true) => ({ type: 'deploy.finished', payload: { service, ok } }) as never

describe('the open protocol in the client', () => {
  it('folds each channel into its own reducer states, built-in events included; readers are notified; initial before any event', async () => {
    const { gateway, client, errors } = setup({ events, commands })
    client.subscribe('deploys:a')
    client.subscribe('deploys:b')
    let notified = 0
    client.subscribeStore(() => notified++)
    await settle()
    expect(client.reduced('deploys', 'deploys:a')).toEqual({ total: 0, failed: [] })
    gateway.publish('deploys:a', deploy('api'))
    gateway.publish('deploys:a', deploy('web', false))
    gateway.publish('deploys:b', deploy('db'))
    gateway.publish('deploys:b', agentStatus('planner'))
    await settle()
    expect(client.reduced('deploys', 'Deploys:a')).toEqual({ total: 2, failed: ['web'] })
    expect(client.reduced('deploys', 'deploys:b')).toEqual({ total: 1, failed: [] })
    expect(client.reduced('busy', 'deploys:b')).toBe(1)
    expect(client.reduced('busy', 'deploys:a')).toBe(0)
    // The built-in store saw the built-in event only.
    expect(client.getSnapshot().agents.planner?.status).toBe('busy')
    expect(notified).toBeGreaterThan(0)
    expect(errors).toEqual([])
    client.close()
  })

  it('takes reducer states from a state frame; a frame without them puts every reducer back at initial', async () => {
    const { gateway, client } = setup({ events })
    client.subscribe('deploys:a')
    await settle()
    gateway.publish('deploys:a', deploy('api'))
    await settle()
    const c = gateway.current!
    const state = (seq: number, reduced?: unknown) => ({ type: 'state', channel: 'deploys:a', epoch: gateway.epoch('deploys:a'), seq, reason: 'window', state: serializeState(initialState()), ...(reduced ? { reduced } : {}) })
    c.send(state(10, { deploys: { total: 10, failed: ['x'] }, other: 1 }))
    await settle()
    expect(client.reduced('deploys', 'deploys:a')).toEqual({ total: 10, failed: ['x'] })
    // A name this client does not define is not kept.
    expect(client.reduced('other' as never, 'deploys:a')).toBeUndefined()
    gateway.publish('deploys:a', deploy('late')) // seq 2 < 10: a duplicate of what the snapshot holds
    c.send({ type: 'event', channel: 'deploys:a', epoch: gateway.epoch('deploys:a'), seq: 11, event: { type: 'deploy.finished', payload: { service: 'eleven', ok: false } } })
    await settle()
    expect(client.reduced('deploys', 'deploys:a')).toEqual({ total: 11, failed: ['x', 'eleven'] })
    c.send(state(12))
    await settle()
    expect(client.reduced('deploys', 'deploys:a')).toEqual({ total: 0, failed: [] })
    client.close()
  })

  it('checks the application events on the fast path as zod would: unknown keys stripped, a wrong field refused', async () => {
    const { gateway, client, errors } = setup({ events })
    const got: unknown[] = []
    client.on('deploy.finished', (e) => got.push(e.payload))
    client.subscribe('deploys:a')
    await settle()
    gateway.publish('deploys:a', { type: 'deploy.finished', payload: { service: 'api', ok: true, extra: { deep: 1 } } } as never)
    gateway.publish('deploys:a', { type: 'deploy.finished', payload: { service: 'web', ok: 'no' } } as never)
    await settle()
    expect(got).toEqual([{ service: 'api', ok: true }])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'bad_request', message: expect.stringContaining('payload.ok to be a boolean, got string') })
    client.close()
  })

  it('reports a reducer that throws, keeps its state, and still delivers the event and folds the others', async () => {
    const { gateway, client, errors } = setup({ events })
    const got: string[] = []
    client.on('deploy.finished', (e) => got.push(e.payload.service))
    client.subscribe('deploys:a')
    await settle()
    gateway.publish('deploys:a', deploy('boom'))
    await settle()
    expect(got).toEqual(['boom'])
    expect(client.reduced('fragile', 'deploys:a')).toBe('ok')
    expect(client.reduced('deploys', 'deploys:a')).toEqual({ total: 1, failed: [] })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'internal', message: expect.stringContaining('the reducer "fragile" threw: reducer bug') })
    client.close()
  })

  it('checks a command before it is queued, sends it with its id, queues it offline, and holds the reply to its result schema', async () => {
    const { gateway, client } = setup({ events, commands, autoConnect: false })
    const replies: Array<{ id: string; result: unknown }> = []
    gateway.set({
      onFrame: (frame, connection) => {
        if (frame.type !== 'command') return
        const agent = (frame.payload as { agent: string }).agent
        const result = agent === 'liar' ? { paused: 1 } : { paused: agent }
        replies.push({ id: frame.id, result })
        connection.send({ type: 'reply', id: frame.id, ok: true, result })
        return false
      },
    })
    await expect(client.command('reboot' as never, {} as never)).rejects.toMatchObject({ code: 'unknown_command' })
    await expect(client.command('pause', { agent: 3 } as never)).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining('agent to be a string') })
    // Made before any connection: queued, then sent once connected.
    const queued = client.command('pause', { agent: 'planner' }, { id: 'pause-1' })
    await settle()
    expect(gateway.framesOf('command')).toHaveLength(0)
    client.connect()
    await settle()
    await expect(queued).resolves.toEqual({ paused: 'planner' })
    expect(gateway.framesOf('command')).toEqual([{ type: 'command', id: 'pause-1', name: 'pause', payload: { agent: 'planner' } }])
    const lie = client.command('pause', { agent: 'liar' })
    lie.catch(() => undefined)
    await settle()
    await expect(lie).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining('"pause result" expects paused to be a string') })
    expect(replies).toHaveLength(2)
    client.close()
  })

  it('re-sends a command whose reply the drop cut off with the same id, and times one out on its own timeout', async () => {
    const { gateway, client } = setup({ commands })
    gateway.set({ onFrame: (frame) => (frame.type === 'command' ? false : undefined) })
    await settle()
    const timedOut = client.command('pause', { agent: 'a' }, { timeoutMs: 300 })
    timedOut.catch(() => undefined)
    const pending = client.command('pause', { agent: 'b' })
    await settle()
    gateway.current!.close(1012, 'restart')
    await settle(200)
    const sent = gateway.framesOf('command').filter((f) => (f.payload as { agent: string }).agent === 'b')
    expect(sent.length).toBeGreaterThanOrEqual(2)
    expect(new Set(sent.map((f) => f.id)).size).toBe(1)
    await vi.advanceTimersByTimeAsync(400)
    await expect(timedOut).rejects.toMatchObject({ code: 'timeout' })
    gateway.current!.send({ type: 'reply', id: sent[0]!.id, ok: true, result: { paused: 'b' } })
    await expect(pending).resolves.toEqual({ paused: 'b' })
    client.close()
  })

  it('keeps reducer states across a reload with storage, and a channel of the application events only', async () => {
    const storage = memoryStorage()
    const env = fakeEnvironment()
    const first = setup({ events, ...recovery({ storage, storageKey: 'reload' }), environment: env })
    first.client.subscribe('deploys:a')
    await settle()
    first.gateway.publish('deploys:a', deploy('api'))
    first.gateway.publish('deploys:a', deploy('web', false))
    await settle()
    env.fire('pagehide')
    first.client.close()
    expect([...storage.items.values()].join('')).toContain('"reduced"')
    const second = setup({ events, ...recovery({ storage, storageKey: 'reload' }), autoConnect: false })
    expect(second.client.reduced('deploys', 'deploys:a')).toEqual({ total: 2, failed: ['web'] })
    second.client.close()
  })

  it('lets a client without definitions see the application events untyped, and refuses to listen to a type it does not know', async () => {
    const { gateway, client } = setup()
    const seen: unknown[] = []
    client.on('event', (e) => seen.push(e))
    client.subscribe('deploys:a')
    await settle()
    gateway.publish('deploys:a', deploy('api'))
    await settle()
    expect(seen).toEqual([{ type: 'agentwire:deploy.finished', payload: { service: 'api', ok: true }, untyped: true }])
    expect(() => client.on('deploy.finished' as never, () => undefined)).toThrow(/unknown event.*options\.events/)
    client.close()
  })
})
