import { expect, it } from 'vitest'
import { createPublisher, redisBroker } from 'agentwire/redis'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy'
import { recorder, statusEvent, uniquePrefix, until, type StoredEvent } from './helpers'
import { ownRedisSuite } from './redis-server'

// The link between the broker and Redis goes silent without closing (a black hole): only the
// broker's own heartbeat can tell. The fault is done by a proxy in front of a redis-server of
// this file's own; nothing here depends on how fast the machine is, only on what happens.
const { suite, redis, open } = ownRedisSuite('test/redis/liveness')

suite('Redis broker heartbeat (black-holed link)', () => {
  it('drops a link that went silent, reconnects once the path heals, and reads back from the streams what Pub/Sub dropped: nothing lost, nothing twice, no resync', async () => {
    const prefix = uniquePrefix('liveness')
    const proxy: FaultProxy = await startFaultProxy({ port: redis().port })
    open.push(proxy)
    const broker = redisBroker({ url: `redis://127.0.0.1:${proxy.port}`, prefix, heartbeat: { intervalMs: 100, timeoutMs: 100 }, onError: () => undefined })
    open.push(broker)
    const publisher = createPublisher({ url: redis().url, prefix })
    open.push(publisher)
    const rec = recorder()
    await broker.subscribe('agent:*', rec.listener)

    const published: StoredEvent[] = []
    for (let i = 0; i < 10; i++) published.push(await publisher.publish('agent:l', statusEvent('l', i)))
    await until(rec, () => rec.events().length === 10, () => `got ${rec.events().length} of 10`)
    const linksBefore = proxy.totals.connections

    proxy.setMode('blackhole')
    const holeAt = Date.now()
    // Published straight into Redis while the broker's link is dark: Pub/Sub drops them.
    for (let i = 10; i < 30; i++) published.push(await publisher.publish('agent:l', statusEvent('l', i)))
    // The broker gave up the silent link and tries again: a new connection reaches the proxy.
    const deadline = Date.now() + 20_000
    while (!proxy.log.some((e) => e.kind === 'connect' && e.t > holeAt)) {
      if (Date.now() > deadline) throw new Error(`the broker never gave up its silent link: ${JSON.stringify(proxy.log.slice(-5))}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(rec.events().length).toBe(10)

    proxy.setMode('pass')
    for (let i = 30; i < 40; i++) published.push(await publisher.publish('agent:l', statusEvent('l', i)))
    await until(rec, () => rec.events().length >= 40, () => `got ${rec.events().length} of 40`)
    expect(rec.events('agent:l')).toEqual(published)
    expect(rec.resyncs()).toEqual([])
    expect(rec.audit()).toEqual({ silentGaps: [], duplicates: [] })
    expect(proxy.totals.connections).toBeGreaterThan(linksBefore)
  })
})
