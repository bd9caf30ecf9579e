import { afterEach, describe, expect, it } from 'vitest'
import { redisBroker, type RedisBroker } from 'agentwire/redis'
import { deletePrefix, REDIS_URL, statusEvent, uniquePrefix, type StoredEvent } from './helpers'

async function until(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const open: RedisBroker[] = []
const prefixes: string[] = []
afterEach(async () => {
  for (const b of open.splice(0)) await b.close()
  for (const p of prefixes.splice(0)) await deletePrefix(p)
})

describe('redisBroker: following a channel again while the last follower is leaving', () => {
  it('delivers to a subscribe made before Redis confirmed the previous UNSUBSCRIBE', async () => {
    const prefix = uniquePrefix('resub')
    prefixes.push(prefix)
    const broker = redisBroker({ url: REDIS_URL, prefix, onError: () => undefined })
    open.push(broker)
    const publisher = redisBroker({ url: REDIS_URL, prefix, onError: () => undefined })
    open.push(publisher)

    const first = await broker.subscribe('agent:a', { event: () => undefined })
    // Not awaited: the new subscribe races the UNSUBSCRIBE still on its way.
    const leaving = first()
    const got: StoredEvent[] = []
    const second = await broker.subscribe('agent:a', { event: (e) => void got.push(e) })
    await leaving

    for (let i = 1; i <= 5; i++) await publisher.publish('agent:a', statusEvent('a', i))
    await until(() => got.length === 5, 10_000)
    expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
    await second()
  })
})
