import { afterEach, describe, expect, it } from 'vitest'
import { createPublisher, redisBroker } from 'agentwire/redis'
import { deletePrefix, REDIS_URL, statusEvent, uniquePrefix, type StoredEvent } from './helpers'

const open: Array<{ close(): Promise<void> }> = []
const prefixes: string[] = []

afterEach(async () => {
  for (const c of open.splice(0)) await c.close()
  for (const p of prefixes.splice(0)) await deletePrefix(p)
})

const TOTAL = 20_000
const CHANNELS = ['agent:f0', 'agent:f1', 'agent:f2', 'agent:f3']

/** Fires TOTAL publishes round robin without awaiting any, then checks every one settled and the logs. */
async function flood(publish: (channel: string, i: number) => Promise<StoredEvent>, read: (channel: string, epoch: string) => Promise<readonly StoredEvent[]>) {
  const calls = Array.from({ length: TOTAL }, (_, i) => publish(CHANNELS[i % CHANNELS.length]!, i))
  const settled = await Promise.allSettled(calls)
  const failed = settled.filter((s) => s.status === 'rejected')
  expect(failed.map((f) => String((f as PromiseRejectedResult).reason)).slice(0, 3)).toEqual([])
  const stored = settled.map((s) => (s as PromiseFulfilledResult<StoredEvent>).value)
  for (const channel of CHANNELS) {
    const mine = stored.filter((e) => e.channel === channel)
    const loads = mine.map((e) => (e.event.payload as { load: number }).load)
    const expected = Array.from({ length: TOTAL / CHANNELS.length }, (_, k) => k * CHANNELS.length + CHANNELS.indexOf(channel))
    expect(loads).toEqual(expected)
    expect(mine.map((e) => e.seq)).toEqual(expected.map((_, k) => k + 1))
    const log = await read(channel, mine[0]!.epoch)
    expect(log.map((e) => (e.event.payload as { load: number }).load)).toEqual(expected)
    expect(log.map((e) => e.seq)).toEqual(expected.map((_, k) => k + 1))
  }
}

describe('a flood of unawaited publishes', () => {
  it('createPublisher settles all 20,000 and stores each once, in call order per channel', async () => {
    const prefix = uniquePrefix('flood')
    prefixes.push(prefix)
    const publisher = createPublisher({ url: REDIS_URL, prefix, retention: { size: TOTAL, maxAgeMs: 0 } })
    open.push(publisher)
    const reader = redisBroker({ url: REDIS_URL, prefix, retention: { size: TOTAL, maxAgeMs: 0 }, onError: () => undefined })
    open.push(reader)
    await flood(
      (c, i) => publisher.publish(c, statusEvent(c.slice(6), i)),
      async (c, epoch) => {
        const r = await reader.read(c, { epoch, seq: 0 })
        if (!r.ok) throw new Error(`read ${c}: ${r.reason}`)
        return r.events
      },
    )
  }, 60_000)

  it('redisBroker().publish settles all 20,000 and stores each once, in call order per channel', async () => {
    const prefix = uniquePrefix('flood')
    prefixes.push(prefix)
    const broker = redisBroker({ url: REDIS_URL, prefix, retention: { size: TOTAL, maxAgeMs: 0 }, onError: () => undefined })
    open.push(broker)
    await flood(
      (c, i) => broker.publish(c, statusEvent(c.slice(6), i)),
      async (c, epoch) => {
        const r = await broker.read(c, { epoch, seq: 0 })
        if (!r.ok) throw new Error(`read ${c}: ${r.reason}`)
        return r.events
      },
    )
  }, 60_000)
})

describe('more channels than the writer caches', () => {
  it('keeps one queue per channel while every cached channel is busy: a burst on the 1,001st channel stays in call order', async () => {
    const prefix = uniquePrefix('flood')
    prefixes.push(prefix)
    const broker = redisBroker({ url: REDIS_URL, prefix, retention: { size: 1000, maxAgeMs: 0 }, onError: () => undefined })
    open.push(broker)
    await broker.ready()
    // 1,000 channels, each with a publish in flight, fill the writer's cache (maxCachedChannels).
    const busy = Array.from({ length: 1000 }, (_, i) => broker.publish(`agent:busy${i}`, statusEvent(`busy${i}`, i)))
    const burst = Array.from({ length: 200 }, (_, i) => broker.publish('agent:late', statusEvent('late', i)))
    await Promise.all(busy)
    const stored = await Promise.all(burst)
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    expect(stored.map((e) => (e.event.payload as { load: number }).load)).toEqual(Array.from({ length: 200 }, (_, i) => i))
  }, 60_000)
})
