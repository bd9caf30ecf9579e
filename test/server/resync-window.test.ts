import { describe, expect, it } from 'vitest'
import { initialState } from 'agentwire/protocol'
import { createGatewayCore, memoryBroker, type Broker, type BrokerListener, type ChannelSnapshot, type StoredEvent } from 'agentwire/server'
import { manualClock } from './support/clock'
import { cleanupsAfterEach, fakeSocket, until } from './support/core'

/**
 * The broker says a channel lost continuity (Redis came back without its log, or Pub/Sub
 * dropped more than the window holds) and goes on delivering the channel's new events at once.
 * The connection answers a resync with a fresh state frame, in its queue after whatever it is
 * doing. Events of that channel that arrive meanwhile must not reach the client before the
 * state: they belong to positions the client has no base for (an unannounced jump).
 */

const cleanups = cleanupsAfterEach()

const status = (name: string, i: number) => ({ type: 'agent.status' as const, payload: { name, status: 'busy' as const, load: i } })
const stored = (channel: string, epoch: string, seq: number): StoredEvent => ({ channel, epoch, seq, time: 1, event: status(channel.slice(6), seq) })

describe('a broker resync while the connection is busy', () => {
  it('sends no event of the resynced channel before its state frame: what arrives meanwhile is covered by the state', async () => {
    const inner = memoryBroker()
    const listeners = new Map<string, BrokerListener>()
    /** Snapshots the test answers by hand, per channel, once the first resync is under way. */
    const held = new Map<string, (s: ChannelSnapshot) => void>()
    let holding = false
    const broker: Broker = {
      ...inner,
      async subscribe(pattern, listener) {
        listeners.set(pattern, listener)
        return inner.subscribe(pattern, listener)
      },
      snapshot: (channel) => (holding ? new Promise((resolve) => held.set(channel, resolve)) : inner.snapshot(channel)),
    }
    const core = createGatewayCore({ clock: manualClock(), broker })
    cleanups.push(() => core.close())
    const { socket, sent } = fakeSocket()
    const connection = core.accept(socket, { headers: {} })!
    cleanups.push(async () => connection.closed())
    connection.receive('{"type":"hello","v":1,"resume":[{"channel":"agent:a"},{"channel":"agent:b"}]}')
    await until(() => sent.filter((f) => f.type === 'state').length === 2, () => JSON.stringify(sent))
    await core.publish('agent:a', status('a', 1))
    await core.publish('agent:b', status('b', 1))
    const old = sent.find((f) => f.type === 'event' && f.channel === 'agent:b').epoch as string

    // Continuity lost on both channels at once (Redis restarted empty). The resync of `a` is
    // under way (its snapshot read pending), the one of `b` waits behind it in the queue, and
    // the broker goes on with `b`'s events in the new epoch.
    holding = true
    listeners.get('agent:a')!.resync!('agent:a', 'epoch')
    listeners.get('agent:b')!.resync!('agent:b', 'epoch')
    await until(() => held.has('agent:a'), () => 'the resync of agent:a never read a snapshot')
    for (let seq = 1; seq <= 3; seq++) listeners.get('agent:b')!.event(stored('agent:b', 'E2', seq))
    held.get('agent:a')!({ channel: 'agent:a', epoch: 'E2', seq: 0, state: initialState() })
    await until(() => held.has('agent:b'), () => 'the resync of agent:b never read a snapshot')
    held.get('agent:b')!({ channel: 'agent:b', epoch: 'E2', seq: 3, state: initialState() })
    await until(() => sent.some((f) => f.type === 'state' && f.channel === 'agent:b' && f.epoch === 'E2'), () => JSON.stringify(sent))
    listeners.get('agent:b')!.event(stored('agent:b', 'E2', 4))

    const b = sent.filter((f) => f.channel === 'agent:b' && (f.type === 'event' || f.type === 'state')).map((f) => `${f.type} ${f.epoch === old ? 'old' : f.epoch}:${f.seq}`)
    expect(b).toEqual(['state old:0', 'event old:1', 'state E2:3', 'event E2:4'])
  })
})
