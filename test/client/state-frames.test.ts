import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'mock-socket'
import { createClient, type WebSocketConstructor } from 'agentwire'
import { initialState, reduce } from 'agentwire/protocol'
import { agentStatus } from './support/fake-gateway'
import { fakeEnvironment, settle, setup, until } from './support/setup'
import { recovery } from 'agentwire/recovery'
import { memoryStorage } from '../support/storage'

/**
 * Channel snapshots arrive in `state` frames. The safe JSON reader drops keys named
 * `__proto__`, `constructor` and `prototype`, so ids with those names survive only in the
 * wire form `serializeState` writes (`[key, view]` pairs); the client reads every `state`
 * frame with `parseState`, which takes that form and the plain one.
 */

const HOSTILE = ['__proto__', 'constructor', 'prototype'] as const

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

function expectNoPollution(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  expect(({} as Record<string, unknown>).status).toBeUndefined()
  expect(Object.getPrototypeOf({})).toBe(Object.prototype)
}

describe('state frames', () => {
  it('ids named __proto__, constructor and prototype survive a snapshot in the wire form, as own keys', async () => {
    const { gateway, client, errors } = setup()
    for (const name of HOSTILE) gateway.publish('agent:x', agentStatus(name, 'busy', 0.5))
    gateway.publish('agent:x', agentStatus('plain', 'available'))
    client.subscribe('agent:*') // answered with the channel's state, written by serializeState
    await until(() => client.getSnapshot().agents.plain !== undefined)
    const agents = client.getSnapshot().agents
    expect(Object.keys(agents).sort()).toEqual(['__proto__', 'constructor', 'plain', 'prototype'])
    for (const name of HOSTILE) {
      expect(Object.prototype.hasOwnProperty.call(agents, name)).toBe(true)
      expect(agents[name]).toMatchObject({ name, status: 'busy', load: 0.5 })
    }
    expect(errors).toEqual([])
    expectNoPollution()
    client.close()
  })

  it('a snapshot in the plain form is read too; a hostile key in it is dropped by the reader, never merged', async () => {
    const { gateway, client, errors } = setup()
    client.subscribe('agent:b')
    await settle()
    const c = gateway.current!
    const plain = JSON.parse(JSON.stringify(reduce(initialState(), agentStatus('b', 'offline', 0.1)))) as Record<string, unknown>
    c.send({ type: 'state', channel: 'agent:b', epoch: gateway.epoch('agent:b'), seq: 4, reason: 'gap', state: plain })
    await settle()
    expect(client.getSnapshot().agents.b).toMatchObject({ status: 'offline', load: 0.1 })

    // Written by hand, as a gateway that did not use serializeState would.
    const view = (name: string) => ({ name, status: 'busy', polluted: 'yes' })
    c.sendRaw(
      `{"type":"state","channel":"agent:b","epoch":"${gateway.epoch('agent:b')}","seq":5,"reason":"gap","state":{"agents":{"__proto__":${JSON.stringify(view('__proto__'))},"b":${JSON.stringify({ name: 'b', status: 'busy' })}}}}`,
    )
    await settle()
    const agents = client.getSnapshot().agents
    expect(agents.b).toMatchObject({ status: 'busy' })
    expect(Object.prototype.hasOwnProperty.call(agents, '__proto__')).toBe(false)
    expect((agents.b as unknown as Record<string, unknown>).polluted).toBeUndefined() // unknown fields stripped
    expect(errors).toEqual([])
    expectNoPollution()
    client.close()
  })

  it('a rejoin answer in the wire form restores a request whose steps name hostile agents', async () => {
    const { gateway, client } = setup()
    gateway.publish('request:r1', { type: 'request.started', payload: { requestId: 'r1', query: 'q' } })
    for (const [i, agent] of HOSTILE.entries()) gateway.publish('request:r1', { type: 'step.progress', payload: { requestId: 'r1', agent, step: i + 1, status: 'completed' } })
    await settle()
    let view: unknown
    void client.rejoin('r1').then((v) => (view = v))
    await until(() => view !== undefined)
    expect(view).toMatchObject({ id: 'r1', steps: HOSTILE.map((agent, i) => expect.objectContaining({ agent, step: i + 1 })) })
    expectNoPollution()
    client.close()
  })

  it('a snapshot that is not a state is counted and reported; it moves no position and changes nothing', async () => {
    const { gateway, client, errors } = setup()
    client.subscribe('agent:a')
    await settle()
    gateway.publish('agent:a', agentStatus('a', 'busy', 1))
    await settle()
    const before = client.getSnapshot()
    gateway.current!.send({ type: 'state', channel: 'agent:a', epoch: gateway.epoch('agent:a'), seq: 9, reason: 'gap', state: { agents: [['a', { name: 'a', status: 7 }]] } })
    await settle()
    expect(client.getSnapshot()).toBe(before)
    expect(client.stats.decodeErrors).toBe(1)
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/"state" expects agents\.a\.status/)])
    gateway.publish('agent:a', agentStatus('a', 'busy', 2)) // seq 2 still follows seq 1
    await settle()
    expect(client.getSnapshot().agents.a).toMatchObject({ load: 2 })
    client.close()
  })

  it('hostile ids survive a reload through storage too (saved in the wire form)', async () => {
    const storage = memoryStorage()
    const env = fakeEnvironment()
    const { gateway } = setup({ autoConnect: false })
    const options = { url: gateway.url, WebSocket: WebSocket as unknown as WebSocketConstructor, ...recovery({ storage }) }
    const first = createClient({ ...options, environment: env })
    first.subscribe('agent:*')
    await until(() => first.state === 'open')
    await settle()
    for (const name of HOSTILE) gateway.publish('agent:x', agentStatus(name, 'busy'))
    await settle()
    env.fire('pagehide')
    first.close()
    expect([...storage.items.values()][0]).toContain('["__proto__",{') // the pairs of serializeState
    const second = createClient({ ...options, environment: null, autoConnect: false })
    expect(Object.keys(second.getSnapshot().agents).sort()).toEqual([...HOSTILE].sort())
    expectNoPollution()
    second.close()
  })
})
