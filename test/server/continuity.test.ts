import { describe, expect, it } from 'vitest'
import { createGatewayCore, memoryBroker, type Broker } from 'agentwire/server'
import { createPublisher, redisBroker } from 'agentwire/redis'
import { deletePrefix, REDIS_URL, uniquePrefix } from '../redis/helpers'
import { manualClock } from './support/clock'
import { cleanupsAfterEach, fakeSocket, until } from './support/core'

const cleanups = cleanupsAfterEach()

const status = (i: number) => ({ type: 'agent.status' as const, payload: { name: 'a', status: 'busy' as const, detail: String(i) } })

describe('the last viewer of a channel leaves and a viewer comes back at once (a reconnect under load)', () => {
  it('the returning viewer gets the events published afterwards: the channel is followed again after the broker let go of it', async () => {
    const prefix = uniquePrefix('resub-race')
    cleanups.push(() => deletePrefix(prefix))
    const broker = redisBroker({ url: REDIS_URL, prefix, onError: () => undefined })
    cleanups.push(() => broker.close())
    const publisher = createPublisher({ url: REDIS_URL, prefix })
    cleanups.push(() => publisher.close())
    const core = createGatewayCore({ clock: manualClock(), broker })
    cleanups.push(() => core.close())

    const old = fakeSocket()
    const oldConnection = core.accept(old.socket, { headers: {} })!
    cleanups.push(async () => oldConnection.closed())
    oldConnection.receive('{"type":"hello","v":1,"resume":[{"channel":"agent:a"}]}')
    await until(() => old.sent.some((f) => f.type === 'state'), () => JSON.stringify(old.sent))
    await publisher.publish('agent:a', status(1))
    await until(() => old.sent.some((f) => f.type === 'event'), () => JSON.stringify(old.sent))

    // In one turn: the old connection goes (its channel's last receiver: the broker unsubscribes)
    // and the new one resumes the channel, before Redis has answered the unsubscribe.
    const fresh = fakeSocket()
    const freshConnection = core.accept(fresh.socket, { headers: {} })!
    cleanups.push(async () => freshConnection.closed())
    oldConnection.closed()
    freshConnection.receive('{"type":"hello","v":1,"resume":[{"channel":"agent:a","resume":[{"channel":"agent:a","epoch":"' + old.sent.find((f) => f.type === 'event').epoch + '","seq":1}]}]}')
    await until(() => fresh.sent.some((f) => f.type === 'welcome'), () => JSON.stringify(fresh.sent))

    for (let i = 2; i <= 4; i++) await publisher.publish('agent:a', status(i))
    await until(
      () => fresh.sent.filter((f) => f.type === 'event').length === 3,
      () => `the new connection got ${JSON.stringify(fresh.sent.map((f) => [f.type, f.seq]))}`,
    )
    expect(fresh.sent.filter((f) => f.type === 'event').map((f) => f.seq)).toEqual([2, 3, 4])
  })
})

describe('a channel left and followed again at once, on any broker', () => {
  it('subscribes the broker anew only once the old subscription is disposed', async () => {
    const inner = memoryBroker()
    const calls: string[] = []
    let letGo!: () => void
    const broker: Broker = {
      ...inner,
      async subscribe(pattern, listener) {
        calls.push(`subscribe ${pattern}`)
        const dispose = await inner.subscribe(pattern, listener)
        return async () => {
          calls.push(`dispose ${pattern} started`)
          // The first disposal hangs until the test lets it finish, as an unsubscribe waiting for its answer does.
          if (calls.filter((c) => c.startsWith('dispose')).length === 1) await new Promise<void>((r) => (letGo = r))
          await dispose()
          calls.push(`dispose ${pattern} done`)
        }
      },
    }
    const core = createGatewayCore({ clock: manualClock(), broker })
    cleanups.push(() => core.close())
    const old = fakeSocket()
    const oldConnection = core.accept(old.socket, { headers: {} })!
    oldConnection.receive('{"type":"hello","v":1,"resume":[{"channel":"agent:a"}]}')
    await until(() => old.sent.some((f) => f.type === 'state'), () => JSON.stringify(old.sent))
    const fresh = fakeSocket()
    const freshConnection = core.accept(fresh.socket, { headers: {} })!
    cleanups.push(async () => freshConnection.closed())
    oldConnection.closed()
    freshConnection.receive('{"type":"hello","v":1,"resume":[{"channel":"agent:a"}]}')
    await until(() => calls.includes('dispose agent:a started'), () => calls.join(', '))
    await new Promise((r) => setTimeout(r, 20))
    expect(calls).toEqual(['subscribe agent:a', 'dispose agent:a started'])
    expect(fresh.sent).toEqual([])
    letGo()
    await until(() => fresh.sent.some((f) => f.type === 'state'), () => JSON.stringify(fresh.sent))
    expect(calls).toEqual(['subscribe agent:a', 'dispose agent:a started', 'dispose agent:a done', 'subscribe agent:a'])
    await core.publish('agent:a', status(1))
    expect(fresh.sent.filter((f) => f.type === 'event').map((f) => f.seq)).toEqual([1])
  })
})

describe('a re-subscribe whose replay the broker fails to read', () => {
  it('keeps the channel live: events held back during the read go out, and later ones follow', async () => {
    const inner = memoryBroker()
    let failRead: ((error: Error) => void) | undefined
    const broker: Broker = {
      ...inner,
      read: (channel, from) => (failRead === undefined && from.seq > 0 ? new Promise((_, reject) => (failRead = reject)) : inner.read(channel, from)),
    }
    const core = createGatewayCore({ clock: manualClock(), broker })
    cleanups.push(() => core.close())
    const { socket, sent } = fakeSocket()
    const connection = core.accept(socket, { headers: {} })!
    cleanups.push(async () => connection.closed())
    connection.receive('{"type":"hello","v":1,"resume":[{"channel":"agent:a"}]}')
    await until(() => sent.some((f) => f.type === 'state'), () => JSON.stringify(sent))
    const first = await core.publish('agent:a', status(1))
    connection.receive(`{"type":"subscribe","id":"again","channels":[{"channel":"agent:a","resume":[{"channel":"agent:a","epoch":"${first.epoch}","seq":1}]}]}`)
    await until(() => failRead !== undefined, () => 'no read')
    await core.publish('agent:a', status(2))
    await core.publish('agent:a', status(3))
    failRead!(new Error('read failed'))
    await until(() => sent.some((f) => f.type === 'reply' && f.id === 'again'), () => JSON.stringify(sent))
    expect(sent.find((f) => f.id === 'again').result[0]).toMatchObject({ ok: false, error: { retryable: true } })
    await core.publish('agent:a', status(4))
    expect(sent.filter((f) => f.type === 'event').map((f) => f.seq)).toEqual([1, 2, 3, 4])
  })
})
