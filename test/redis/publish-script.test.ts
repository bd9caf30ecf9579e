import { afterEach, describe, expect, it } from 'vitest'
import { initialState, reduce } from 'agentwire/protocol'
import { createPublisher, redisBroker } from 'agentwire/redis'
import type { RedisClient } from '../../src/redis/connection'
import { createLogWriter } from '../../src/redis/log-writer'
import { keysFor, parseStored, storeText } from '../../src/redis/redis-log'
import { deletePrefix, rawClient, REDIS_URL, statusEvent, uniquePrefix, type AgentEvent } from './helpers'

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

  it('trims a backlog of expired entries longer than its first read (16), exactly up to the first one kept', async () => {
    const prefix = uniquePrefix('script')
    prefixes.push(prefix)
    let now = 1_000_000
    const publisher = createPublisher({ url: REDIS_URL, prefix, retention: { size: 1000, maxAgeMs: 10_000 }, now: () => now })
    open.push(publisher)
    for (let i = 0; i < 40; i++) {
      await publisher.publish('agent:b', statusEvent('b', i))
      if (i === 29) now += 5_000
    }
    const raw = await rawClient()
    open.push({ close: () => raw.close() })
    // The first 30 expire, the other 10 not yet: read 16, then the rest, trim to entry 31.
    now += 6_000
    await publisher.publish('agent:b', statusEvent('b', 40))
    expect((await raw.xRange(`${prefix}:log:agent:b`, '-', '+'))!.map((e) => e.id)).toEqual([...Array.from({ length: 10 }, (_, i) => `${31 + i}-0`), '41-0'])
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

  it('keeps the stored state when a batch leaves it as it was, and stores it again when it changes', async () => {
    const prefix = uniquePrefix('script')
    prefixes.push(prefix)
    const publisher = createPublisher({ url: REDIS_URL, prefix })
    open.push(publisher)
    const raw = await rawClient()
    open.push({ close: () => raw.close() })
    const meta = `${prefix}:meta:agent:same`
    const events = [statusEvent('same', 0), statusEvent('same', 0), statusEvent('same', 0), statusEvent('same', 1)]
    let folded = initialState()
    const texts: string[] = []
    for (const [i, event] of events.entries()) {
      await publisher.publish('agent:same', event)
      folded = reduce(folded, event)
      // Marked (same JSON, one more space) so that a rewrite of the same text would show.
      if (i === 0) await raw.hSet(meta, 'state', ` ${(await raw.hGet(meta, 'state'))!}`)
      texts.push((await raw.hGet(meta, 'state'))!)
      expect(parseStored(texts.at(-1)!).state).toEqual(folded)
    }
    // The repeats re-announce the same status: the state text is the marked one, untouched.
    expect(texts[1]).toBe(texts[0])
    expect(texts[2]).toBe(texts[0])
    expect(texts[3]!.startsWith(' ')).toBe(false)
    expect(await raw.hGet(meta, 'seq')).toBe('4')
  })

  it('sends what one turn publishes on a channel in one script call, in call order', async () => {
    const prefix = uniquePrefix('script')
    prefixes.push(prefix)
    const client = await rawClient()
    open.push({ close: () => client.close() })
    const calls: string[][] = []
    const counting = new Proxy(client, {
      get: (target, key, receiver) =>
        key === 'sendCommand' ? (args: string[]) => (calls.push(args), target.sendCommand(args)) : Reflect.get(target, key, receiver),
    })
    const writer = createLogWriter(counting as unknown as RedisClient, { keys: keysFor(prefix), size: 1000, maxAgeMs: 0, now: Date.now })
    // The first call on a channel learns its head (one failed compare-and-set); then one call per turn.
    await writer.publish('agent:turn', statusEvent('turn', -1) as AgentEvent)
    calls.length = 0
    const stored = await Promise.all([0, 1, 2, 3, 4].map((i) => writer.publish('agent:turn', statusEvent('turn', i) as AgentEvent)))
    expect(calls).toHaveLength(1)
    expect(stored.map((s) => s.seq)).toEqual([2, 3, 4, 5, 6])
    const snapshot = parseStored((await client.hGet(`${prefix}:meta:agent:turn`, 'state'))!)
    expect(snapshot.state).toEqual([-1, 0, 1, 2, 3, 4].reduce((s, i) => reduce(s, statusEvent('turn', i)), initialState()))
    writer.close()
  })
})

describe('coalesceMs', () => {
  it('sends at once on an idle channel, and while it is busy at most one call per window, in call order', async () => {
    const prefix = uniquePrefix('script')
    prefixes.push(prefix)
    const client = await rawClient()
    open.push({ close: () => client.close() })
    const calls: number[] = []
    const counting = new Proxy(client, {
      get: (target, key, receiver) =>
        key === 'sendCommand' ? (args: string[]) => (calls.push(performance.now()), target.sendCommand(args)) : Reflect.get(target, key, receiver),
    })
    const writer = createLogWriter(counting as unknown as RedisClient, { keys: keysFor(prefix), size: 1000, maxAgeMs: 0, now: Date.now, coalesceMs: 200 })
    open.push({ close: async () => writer.close() })
    // Learn the head (a failed compare-and-set, then the append), then idle past the window.
    await writer.publish('agent:c', statusEvent('c', 0) as AgentEvent)
    await new Promise((r) => setTimeout(r, 250))
    calls.length = 0
    const t0 = performance.now()
    const first = await writer.publish('agent:c', statusEvent('c', 1) as AgentEvent)
    // Idle for the window: no wait.
    expect(performance.now() - t0).toBeLessThan(150)
    // Busy: three more, a turn apart, wait for the rest of the window and go out together.
    const rest: Array<Promise<{ seq: number }>> = []
    for (let i = 2; i < 5; i++) {
      rest.push(writer.publish('agent:c', statusEvent('c', i) as AgentEvent))
      await new Promise((r) => setTimeout(r, 10))
    }
    const stored = await Promise.all(rest)
    expect(calls).toHaveLength(2)
    expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(190)
    expect([first, ...stored].map((s) => s.seq)).toEqual([2, 3, 4, 5])
  })
})

describe('storeText', () => {
  it('is the text JSON.stringify gives, the unchanged parts of a state taken from the last call', () => {
    let state = initialState()
    expect(storeText(state, undefined)).toBe(JSON.stringify(state))
    for (let i = 0; i < 5; i++) {
      state = reduce(state, statusEvent(`a${i % 2}`, i))
      expect(storeText(state, undefined)).toBe(JSON.stringify(state))
      const reduced = { counter: { n: i }, gone: undefined }
      expect(storeText(state, reduced)).toBe(JSON.stringify({ ...state, $reduced: reduced }))
    }
    expect(storeText({ ...state, agents: Object.assign(Object.create(null), { __proto__: { status: 'busy' } }) }, undefined)).toBe(
      JSON.stringify({ ...state, agents: Object.assign(Object.create(null), { __proto__: { status: 'busy' } }) }),
    )
  })
})
