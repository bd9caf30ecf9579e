import { afterEach, describe, expect, it } from 'vitest'
import { createPublisher, redisBroker } from 'agentwire/redis'
import { deletePrefix, rawClient, REDIS_URL, statusEvent, uniquePrefix } from './helpers'

// The publish script reads the log only when its oldest entry may have expired, and adds a
// channel to the channel set once, with its first entry: these pin what that must not lose.
const prefixes: string[] = []
const open: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const c of open.splice(0)) await c.close()
  for (const p of prefixes.splice(0)) await deletePrefix(p)
})

describe('the publish script', () => {
  it('trims entries past maxAgeMs on the next publish, however old the head it remembers', async () => {
    const prefix = uniquePrefix('script')
    prefixes.push(prefix)
    let now = 1_000_000
    const publisher = createPublisher({ url: REDIS_URL, prefix, retention: { size: 1000, maxAgeMs: 10_000 }, now: () => now })
    open.push(publisher)
    for (let i = 0; i < 5; i++) await publisher.publish('agent:a', statusEvent('a', i))
    now += 5_000
    for (let i = 5; i < 8; i++) await publisher.publish('agent:a', statusEvent('a', i))
    const raw = await rawClient()
    open.push({ close: () => raw.close() })
    expect(await raw.xLen(`${prefix}:log:agent:a`)).toBe(8)
    // The first five are now past the age limit; the next publish drops exactly those.
    now += 6_000
    await publisher.publish('agent:a', statusEvent('a', 8))
    const ids = (await raw.xRange(`${prefix}:log:agent:a`, '-', '+'))!.map((e) => e.id)
    expect(ids).toEqual(['6-0', '7-0', '8-0', '9-0'])
    // And again once those expire, from the head the script recorded at the last trim.
    now += 20_000
    await publisher.publish('agent:a', statusEvent('a', 9))
    expect((await raw.xRange(`${prefix}:log:agent:a`, '-', '+'))!.map((e) => e.id)).toEqual(['10-0'])
  })

  it('lists a channel that was snapshotted before its first publish', async () => {
    const prefix = uniquePrefix('script')
    prefixes.push(prefix)
    const broker = redisBroker({ url: REDIS_URL, prefix, retention: { size: 100, maxAgeMs: 0 }, onError: () => undefined })
    open.push(broker)
    await broker.snapshot('agent:early')
    expect(await broker.channels('agent:*')).toEqual([])
    await broker.publish('agent:early', statusEvent('early', 1))
    await broker.publish('agent:late', statusEvent('late', 1))
    expect((await broker.channels('agent:*')).sort()).toEqual(['agent:early', 'agent:late'])
  })
})
