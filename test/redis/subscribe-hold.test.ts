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
