import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ProtocolError } from 'agentwire'
import { agentStatus } from './support/fake-gateway'
import { settle, setup, until } from './support/setup'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

const event = (channel: string, epoch: string, seq: number, ev: unknown = agentStatus(channel.slice(6))) => ({ type: 'event', channel, epoch, seq, event: ev })

describe('bad input from the server', () => {
  it('B1: malformed frames are dropped, counted and reported; the connection stays up', async () => {
    const { gateway, client, errors } = setup()
    client.subscribe('agent:a')
    await settle()
    const c = gateway.current!
    c.sendRaw('{"type":"event","chan') // truncated JSON
    c.sendRaw('not json at all')
    c.send({ type: 'pong' }) // a good frame resets the consecutive count
    c.sendRaw('[1,2,3]')
    await settle()
    expect(client.stats.decodeErrors).toBe(3)
    expect(errors.filter((e) => e instanceof ProtocolError)).toHaveLength(3)
    expect(client.state).toBe('open')
    expect(gateway.connections).toHaveLength(1)
    client.close()
  })

  it('B1: three consecutive undecodable frames close with 4442 and reconnect', async () => {
    const { gateway, client, states } = setup()
    await settle()
    const c = gateway.current!
    for (let i = 0; i < 3; i++) c.sendRaw(`{{{${i}`)
    expect(states.at(-1)).toMatchObject({ current: 'reconnecting', reason: { code: 4442 } })
    await until(() => client.state === 'open')
    expect(gateway.connections).toHaveLength(2)
    client.close()
  })

  it('B2: a schema-invalid event never reaches handlers nor advances the position; valid frames after it are delivered', async () => {
    const { gateway, client, errors } = setup()
    client.subscribe('agent:a')
    const seen: number[] = []
    client.on('event', (_e, ctx) => seen.push(ctx.seq!))
    await settle()
    const c = gateway.current!
    const epoch = gateway.epoch('agent:a')
    c.send(event('agent:a', epoch, 1, { type: 'agent.status', payload: { name: 'a', status: 3 } }))
    c.send({ type: 'pong' }) // keeps the run of consecutive errors below maxProtocolErrors
    c.send({ ...event('agent:a', epoch, 1), seq: '1' })
    c.send({ type: 'event', channel: 'agent:a', epoch, seq: 1, event: { type: 'agent.status' } }) // no payload
    await settle()
    expect(seen).toEqual([])
    expect(errors.map((e) => e.message).join('\n')).toMatch(/status/)
    gateway.publish('agent:a', agentStatus('a')) // seq 1: delivered, so the invalid ones moved nothing
    await settle()
    expect(seen).toEqual([1])
    expect(client.stats.decodeErrors).toBe(3)
    client.close()
  })

  it('B3: unknown frame types are counted and skipped, events of unknown types reach on(\'event\') untyped; never fatal', async () => {
    const { gateway, client, errors } = setup()
    client.subscribe('agent:a')
    const seen: string[] = []
    client.on('event', (e) => seen.push(e.type))
    await settle()
    const c = gateway.current!
    c.send({ type: 'telemetry', data: 1 })
    c.send(event('agent:a', gateway.epoch('agent:a'), 1, { type: 'agent.teleported', payload: {} }))
    await settle()
    expect(client.stats.unknownFrames).toBe(2)
    expect(errors).toEqual([])
    expect(seen).toEqual(['agentwire:agent.teleported'])
    expect(client.state).toBe('open')
    client.close()
  })

  it('B7: repeated and overlapping seqs are dropped; a gap is never delivered silently but asked again from the last position', async () => {
    const { gateway, client } = setup()
    client.subscribe('agent:a')
    const seen: number[] = []
    client.on('event', (_e, ctx) => seen.push(ctx.seq!))
    await settle()
    const c = gateway.current!
    for (let i = 0; i < 3; i++) gateway.publish('agent:a', agentStatus('a'))
    const epoch = gateway.epoch('agent:a')
    c.send(event('agent:a', epoch, 3)) // a repeat
    c.send(event('agent:a', epoch, 2)) // an older one: dropped, and the client checks its position with a re-subscribe
    await settle()
    expect(seen).toEqual([1, 2, 3])
    expect(client.stats.duplicates).toBe(2)

    // Event 4 goes missing on the way; 5 arrives.
    c.subscriptions.delete('agent:a')
    gateway.publish('agent:a', agentStatus('a', 'available'))
    c.subscriptions.add('agent:a')
    gateway.publish('agent:a', agentStatus('a', 'offline'))
    await settle()
    const resubscribe = gateway.framesOf('subscribe', c).at(-1)!
    expect(resubscribe.channels).toEqual([{ channel: 'agent:a', resume: [{ channel: 'agent:a', epoch, seq: 3 }] }])
    expect(seen).toEqual([1, 2, 3, 4, 5]) // the replay filled the gap, in order, once
    expect(client.getSnapshot().agents.a?.status).toBe('offline')

    // A backwards jump within the epoch outside any replay: dropped, and asked again from 5.
    c.send(event('agent:a', epoch, 2))
    await settle()
    expect(seen).toEqual([1, 2, 3, 4, 5])
    expect(gateway.framesOf('subscribe', c).at(-1)!.channels[0]!.resume).toEqual([{ channel: 'agent:a', epoch, seq: 5 }])
    // A frame from a foreign epoch is not delivered either.
    c.send(event('agent:a', 'other-epoch', 6))
    await settle()
    expect(seen).toEqual([1, 2, 3, 4, 5])
    client.close()
  })

  it('B7: a snapshot overlapping live events: events at or below its seq are duplicates', async () => {
    const { gateway, client } = setup()
    for (let i = 0; i < 5; i++) gateway.publish('agent:a', agentStatus('a'))
    client.subscribe('agent:a') // fresh: a state frame at seq 5
    const seen: number[] = []
    client.on('event', (_e, ctx) => seen.push(ctx.seq!))
    await settle()
    const c = gateway.current!
    const epoch = gateway.epoch('agent:a')
    c.send(event('agent:a', epoch, 4))
    c.send(event('agent:a', epoch, 5))
    gateway.publish('agent:a', agentStatus('a', 'available'))
    await settle()
    expect(seen).toEqual([6])
    expect(gateway.framesOf('subscribe', c)).toHaveLength(0) // in hello: no re-subscribe was needed
    client.close()
  })
})
