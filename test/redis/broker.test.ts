import { afterEach, describe, expect, it } from 'vitest'
import { createEventCheck, initialState, reduce } from 'agentwire/protocol'
import { createPublisher, redisBroker, reconnectDelay, type RedisBroker } from 'agentwire/redis'
import { connectionOptions } from '../../src/redis/connection'
import { deletePrefix, rawClient, REDIS_URL, statusEvent, uniquePrefix, waitFor, type AgentEvent, type StoredEvent } from './helpers'

const open: Array<{ close(): Promise<void> }> = []
const prefixes: string[] = []

function broker(prefix: string, size = 1000): RedisBroker {
  const b = redisBroker({ url: REDIS_URL, prefix, retention: { size, maxAgeMs: 0 }, onError: () => undefined })
  open.push(b)
  return b
}
function freshPrefix(): string {
  const p = uniquePrefix('broker')
  prefixes.push(p)
  return p
}

afterEach(async () => {
  for (const c of open.splice(0)) await c.close()
  for (const p of prefixes.splice(0)) await deletePrefix(p)
})

describe('redisBroker: positions in Redis', () => {
  it('assigns seq 1, 2, 3 per channel, in one epoch per channel', async () => {
    const b = broker(freshPrefix())
    const a1 = await b.publish('agent:a', statusEvent('a', 1))
    const a2 = await b.publish('agent:a', statusEvent('a', 2))
    const b1 = await b.publish('agent:b', statusEvent('b', 1))
    const a3 = await b.publish('agent:a', statusEvent('a', 3))
    expect([a1.seq, a2.seq, a3.seq, b1.seq]).toEqual([1, 2, 3, 1])
    expect(new Set([a1.epoch, a2.epoch, a3.epoch]).size).toBe(1)
    expect(a1.epoch).not.toBe(b1.epoch)
  })

  it('keeps call order for concurrent publishes on one channel (group commit)', async () => {
    const b = broker(freshPrefix())
    const stored = await Promise.all(Array.from({ length: 500 }, (_, i) => b.publish('agent:a', statusEvent('a', i))))
    expect(stored.map((s) => s.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1))
    expect(stored.map((s) => (s.event.payload as { load: number }).load)).toEqual(Array.from({ length: 500 }, (_, i) => i))
  })

  it('reads exactly the rest from a position inside the window, and says why it cannot otherwise', async () => {
    const b = broker(freshPrefix(), 10)
    const stored: StoredEvent[] = []
    for (let i = 0; i < 5; i++) stored.push(await b.publish('task:t1', { type: 'task.progress', payload: { taskId: 't1', progress: i * 10 } }))
    const epoch = stored[0]!.epoch

    const rest = await b.read('task:t1', { epoch, seq: 2 })
    expect(rest).toEqual({ ok: true, events: stored.slice(2) })
    expect(await b.read('task:t1', { epoch, seq: 5 })).toEqual({ ok: true, events: [] })
    expect(await b.read('task:t1', { epoch, seq: 0 })).toEqual({ ok: true, events: stored })
    expect(await b.read('task:t1', { epoch: 'another-epoch', seq: 2 })).toEqual({ ok: false, reason: 'epoch' })
    expect(await b.read('task:t1', { epoch, seq: 6 })).toEqual({ ok: false, reason: 'future' })

    // Past the window: MAXLEN ~ trims whole nodes, so publish well beyond it.
    for (let i = 0; i < 400; i++) await b.publish('task:t1', { type: 'task.progress', payload: { taskId: 't1', progress: i % 100 } })
    expect(await b.read('task:t1', { epoch, seq: 1 })).toEqual({ ok: false, reason: 'window' })
    const head = await b.snapshot('task:t1')
    expect(head.seq).toBe(405)
    const tail = await b.read('task:t1', { epoch, seq: 400 })
    expect(tail.ok && tail.events.map((e) => e.seq)).toEqual([401, 402, 403, 404, 405])
  })

  it('keeps the snapshot equal to reduce over every event, at the same seq', async () => {
    const b = broker(freshPrefix())
    const events: AgentEvent[] = [
      statusEvent('planner', 1),
      { type: 'routing.decision', payload: { taskId: 't9', agent: { name: 'planner', strengths: ['plan'], cost: 0.2, latency: 12 }, timestamp: 1234567890 } },
      statusEvent('planner', 2),
    ]
    for (const e of events) await b.publish('agent:planner', e)
    const snap = await b.snapshot('agent:planner')
    expect(snap.seq).toBe(3)
    expect(snap.channel).toBe('agent:planner')
    expect(snap.state).toEqual(events.reduce(reduce, initialState()))
  })

  it('hands out a position for a channel nobody published to yet, and honours it later', async () => {
    const b = broker(freshPrefix())
    const empty = await b.snapshot('session:s1')
    expect(empty.seq).toBe(0)
    expect(empty.epoch.length).toBeGreaterThan(0)
    const first = await b.publish('session:s1', { type: 'session.status', payload: { sessionId: 's1', status: 'testing' } })
    expect(first).toMatchObject({ epoch: empty.epoch, seq: 1 })
    expect(await b.read('session:s1', { epoch: empty.epoch, seq: 0 })).toEqual({ ok: true, events: [first] })
  })

  it('lists known channels by pattern', async () => {
    const b = broker(freshPrefix())
    await b.publish('agent:alpha', statusEvent('alpha', 1))
    await b.publish('agent:beta', statusEvent('beta', 1))
    await b.publish('task:t1', { type: 'task.started', payload: { taskId: 't1' } })
    expect(await b.channels('agent:*')).toEqual(['agent:alpha', 'agent:beta'])
    expect(await b.channels('agent:al*')).toEqual(['agent:alpha'])
    expect(await b.channels('*')).toEqual(['agent:alpha', 'agent:beta', 'task:t1'])
    expect(await b.channels('task:t1')).toEqual(['task:t1'])
    expect(await b.channels('task:t2')).toEqual([])
  })

  it('refuses a pattern or an invalid name where a channel is needed, before touching Redis', async () => {
    const b = broker(freshPrefix())
    await expect(b.publish('agent:*', statusEvent('a', 1))).rejects.toMatchObject({ code: 'invalid_channel' })
    await expect(b.read('user:1:2', { epoch: 'e', seq: 0 })).rejects.toMatchObject({ code: 'invalid_channel' })
  })

  it('gives two gateways the same positions, and delivers what A publishes to a subscriber on B, in order', async () => {
    const prefix = freshPrefix()
    const a = broker(prefix)
    const b = broker(prefix)
    const got: StoredEvent[] = []
    const wait = waitFor(() => got.length >= 300, () => `got ${got.length} of 300`)
    await b.subscribe('agent:*', { event: (e) => (got.push(e), wait.poke()) })
    const published = await Promise.all(Array.from({ length: 300 }, (_, i) => a.publish(i % 2 ? 'agent:odd' : 'agent:even', statusEvent('x', i))))
    await wait.done
    for (const channel of ['agent:odd', 'agent:even']) {
      expect(got.filter((e) => e.channel === channel)).toEqual(published.filter((e) => e.channel === channel))
    }
    // B publishing continues A's sequence: positions are the system's, not the node's.
    const next = await b.publish('agent:odd', statusEvent('x', 999))
    expect(next.seq).toBe(151)
    expect(await a.read('agent:odd', { epoch: next.epoch, seq: 150 })).toEqual({ ok: true, events: [next] })
  })

  it('delivers live events from the head at subscribe time, and stops after the disposer', async () => {
    const b = broker(freshPrefix())
    await b.publish('agent:a', statusEvent('a', 1))
    const got: number[] = []
    const wait = waitFor(() => got.length >= 2, () => `got ${got}`)
    const dispose = await b.subscribe('agent:a', { event: (e) => (got.push(e.seq), wait.poke()) })
    await b.publish('agent:a', statusEvent('a', 2))
    await b.publish('agent:a', statusEvent('a', 3))
    await wait.done
    expect(got).toEqual([2, 3])
    await dispose()
    await b.publish('agent:a', statusEvent('a', 4))
    // A later subscriber on the same node sees 5; the disposed one never sees 4 or 5.
    const later: number[] = []
    const wait2 = waitFor(() => later.length >= 1, () => `later ${later}`)
    await b.subscribe('agent:a', { event: (e) => (later.push(e.seq), wait2.poke()) })
    await b.publish('agent:a', statusEvent('a', 5))
    await wait2.done
    expect(later).toEqual([5])
    expect(got).toEqual([2, 3])
  })

  it('createPublisher shares the positions and the snapshot with the brokers', async () => {
    const prefix = freshPrefix()
    const b = broker(prefix)
    const publisher = createPublisher({ url: REDIS_URL, prefix })
    open.push(publisher)
    const got: StoredEvent[] = []
    const wait = waitFor(() => got.length >= 2, () => `got ${got.length}`)
    await b.subscribe('agent:planner', { event: (e) => (got.push(e), wait.poke()) })
    const p1 = await publisher.publish('AGENT:planner', statusEvent('planner', 1))
    const p2 = await b.publish('agent:planner', statusEvent('planner', 2))
    await wait.done
    expect(p1.channel).toBe('agent:planner')
    expect(got).toEqual([p1, p2])
    expect((await b.snapshot('agent:planner')).state).toEqual([p1.event, p2.event].reduce(reduce, initialState()))
  })

  it('createPublisher validates the channel and the event before sending', async () => {
    const publisher = createPublisher({ url: REDIS_URL, prefix: freshPrefix() })
    open.push(publisher)
    await expect(publisher.publish('agent:*', statusEvent('a', 1))).rejects.toMatchObject({ code: 'invalid_channel' })
    await expect(publisher.publish('9nope:1', statusEvent('a', 1))).rejects.toMatchObject({ code: 'invalid_channel' })
    // A status word outside the known list passes as it came; a status that is not a word does not.
    await expect(
      publisher.publish('agent:a', { type: 'agent.status', payload: { name: 'a', status: 42 } } as never),
    ).rejects.toMatchObject({ code: 'bad_request', path: ['payload', 'status'] })
  })

  it('createPublisher stores what the canonical check returns: unknown keys and forbidden keys gone, in-process values zod judges', async () => {
    const publisher = createPublisher({ url: REDIS_URL, prefix: freshPrefix() })
    open.push(publisher)
    const check = createEventCheck()
    const extra = { type: 'agent.status', payload: { name: 'a', status: 'busy', load: 0.5, extra: 1 }, also: true }
    const stored = await publisher.publish('agent:a', structuredClone(extra) as never)
    expect(stored.event).toEqual(check(structuredClone(extra)))
    expect(stored.event).toEqual({ type: 'agent.status', payload: { name: 'a', status: 'busy', load: 0.5 } })
    const poisoned = JSON.parse('{"type":"agent.status","payload":{"name":"a","status":"busy","__proto__":{"x":1}}}') as never
    expect((await publisher.publish('agent:a', poisoned)).event).toEqual({ type: 'agent.status', payload: { name: 'a', status: 'busy' } })
    // What a checker does not vouch for goes to zod, with zod's words.
    const odd = { type: 'agent.status', payload: { name: 'a', status: 'busy', load: Number.NaN } }
    const expected = (() => {
      try {
        check(structuredClone(odd))
      } catch (err) {
        return err
      }
    })()
    await expect(publisher.publish('agent:a', structuredClone(odd) as never)).rejects.toMatchObject({ code: 'bad_request', message: (expected as Error).message })
  })

  it('detects a lost log: a new epoch, and the old epoch reads as "epoch"', async () => {
    const prefix = freshPrefix()
    const b = broker(prefix)
    const old = await b.publish('agent:a', statusEvent('a', 1))
    await b.publish('agent:a', statusEvent('a', 2))
    const raw = await rawClient()
    await raw.del([`${prefix}:meta:agent:a`, `${prefix}:log:agent:a`])
    await raw.close()
    const fresh = await b.publish('agent:a', statusEvent('a', 3))
    expect(fresh.seq).toBe(1)
    expect(fresh.epoch).not.toBe(old.epoch)
    expect(await b.read('agent:a', { epoch: old.epoch, seq: 2 })).toEqual({ ok: false, reason: 'epoch' })
    expect((await b.snapshot('agent:a')).state).toEqual(reduce(initialState(), fresh.event))
  })

  it('turns off node-redis per-command timeout only where the heartbeat bounds every wait', () => {
    expect(connectionOptions(REDIS_URL, undefined, false)).toMatchObject({ pingInterval: 5000, commandOptions: { timeout: 0 }, socket: { socketTimeout: 10_000 } })
    const bare = connectionOptions(REDIS_URL, undefined, false, false)
    expect(bare).not.toHaveProperty('commandOptions')
    expect(bare.socket).not.toHaveProperty('socketTimeout')
  })

  it('backs off with full jitter inside [initial, max], never 0 or NaN, even after 10,000 attempts', () => {
    for (const attempt of [0, 1, 5, 31, 1014, 10_000]) {
      for (const r of [0, 0.5, 0.999999]) {
        const d = reconnectDelay(attempt, { initialDelayMs: 50, maxDelayMs: 1000 }, () => r)
        expect(d).toBeGreaterThanOrEqual(50)
        expect(d).toBeLessThanOrEqual(1000)
      }
    }
    expect(reconnectDelay(0, {}, () => 0.999)).toBeLessThanOrEqual(100)
  })
})
