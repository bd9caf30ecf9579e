import { afterEach, describe, expect, it } from 'vitest'
import { createPublisher, redisBroker, type RedisBroker } from 'agentwire/redis'
import { deletePrefix, REDIS_URL, statusEvent, uniquePrefix, type StoredEvent } from './helpers'

async function until(predicate: () => boolean, describe: () => string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${describe()}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

const open: Array<{ close(): Promise<void> }> = []
const prefixes: string[] = []
afterEach(async () => {
  for (const b of open.splice(0)) await b.close()
  for (const p of prefixes.splice(0)) await deletePrefix(p)
})

describe('redisBroker: a subscribe in progress holds back only the channels it covers', () => {
  it("delivers a followed channel's live events while a pattern over other channels is still reading its heads", async () => {
    const prefix = uniquePrefix('hold')
    prefixes.push(prefix)
    const broker: RedisBroker = redisBroker({ url: REDIS_URL, prefix, onError: () => undefined })
    open.push(broker)
    const publisher = createPublisher({ url: REDIS_URL, prefix })
    open.push(publisher)

    // 2,000 channels under `agent:`: subscribing `agent:*` reads each one's head, one round trip
    // after another, while a single event on another channel needs one.
    await Promise.all(Array.from({ length: 2000 }, (_, i) => publisher.publish(`agent:p${i}`, statusEvent(`p${i}`, 0))))
    const followed: StoredEvent[] = []
    const dispose = await broker.subscribe('request:r1', { event: (e) => void followed.push(e) })

    let patternReady = false
    const pattern = broker.subscribe('agent:*', { event: () => undefined }).then((d) => ((patternReady = true), d))
    await publisher.publish('request:r1', { type: 'request.started', payload: { requestId: 'r1', query: 'x' } })
    await until(() => followed.length === 1 || patternReady, () => 'neither the event nor the pattern')
    // Before: every notification of the broker waited until the pattern's last head was read.
    expect({ delivered: followed.length, patternReady }).toEqual({ delivered: 1, patternReady: false })

    const disposePattern = await pattern
    // What the pattern held back is not lost: a new event on one of its channels arrives once, in order.
    const got: StoredEvent[] = []
    const disposeOne = await broker.subscribe('agent:p7', { event: (e) => void got.push(e) })
    await publisher.publish('agent:p7', statusEvent('p7', 1))
    await until(() => got.length === 1, () => `agent:p7 got ${got.length}`)
    expect(got.map((e) => e.seq)).toEqual([2])
    await Promise.all([dispose(), disposePattern(), disposeOne()])
  }, 60_000)
})

describe('redisBroker: listeners by channel and by pattern', () => {
  it('delivers each event to every listener whose channel or pattern covers it, and to no other, as listeners come and go', async () => {
    const prefix = uniquePrefix('index')
    prefixes.push(prefix)
    const broker: RedisBroker = redisBroker({ url: REDIS_URL, prefix, onError: () => undefined })
    open.push(broker)
    const publisher = createPublisher({ url: REDIS_URL, prefix })
    open.push(publisher)
    const got: Record<string, string[]> = { a1: [], a2: [], all: [], t: [] }
    const listen = (name: string) => ({ event: (e: StoredEvent) => void got[name]!.push(`${e.channel}#${e.seq}`) })
    const a1 = await broker.subscribe('agent:a', listen('a1'))
    const all = await broker.subscribe('agent:*', listen('all'))
    const a2 = await broker.subscribe('agent:a', listen('a2'))
    const t = await broker.subscribe('task:t', listen('t'))
    const total = () => Object.values(got).reduce((n, l) => n + l.length, 0)

    await publisher.publish('agent:a', statusEvent('a', 1))
    await publisher.publish('agent:b', statusEvent('b', 1))
    await publisher.publish('task:t', statusEvent('t', 1))
    await until(() => total() === 5, () => JSON.stringify(got))
    expect(got).toEqual({ a1: ['agent:a#1'], a2: ['agent:a#1'], all: ['agent:a#1', 'agent:b#1'], t: ['task:t#1'] })

    await a1()
    await publisher.publish('agent:a', statusEvent('a', 2))
    await until(() => total() === 7, () => JSON.stringify(got))
    await a2()
    // Still covered by the pattern: the channel's position is kept, nothing is skipped or repeated.
    await publisher.publish('agent:a', statusEvent('a', 3))
    await until(() => total() === 8, () => JSON.stringify(got))
    expect(got).toEqual({ a1: ['agent:a#1'], a2: ['agent:a#1', 'agent:a#2'], all: ['agent:a#1', 'agent:b#1', 'agent:a#2', 'agent:a#3'], t: ['task:t#1'] })
    await Promise.all([all(), t()])
  })
})
