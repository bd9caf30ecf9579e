import { describe, expect, it } from 'vitest'
import { memoryBroker, type StoredEvent } from 'agentwire/server'

const ev = (name: string, load = 0) => ({ type: 'agent.status' as const, payload: { name, status: 'busy' as const, load } })

function fakeClock(start = 1_000_000) {
  let now = start
  return { now: () => now, advance: (ms: number) => void (now += ms) }
}

describe('memory broker', () => {
  it('positions events per channel from 1 within one epoch', async () => {
    const broker = memoryBroker()
    const a1 = await broker.publish('agent:a', ev('a'))
    const b1 = await broker.publish('agent:b', ev('b'))
    const a2 = await broker.publish('agent:a', ev('a', 1))
    expect([a1.seq, b1.seq, a2.seq]).toEqual([1, 1, 2])
    expect(a1.epoch).toBe(b1.epoch)
    expect(memoryBroker().name).toBe('memory')
  })

  it('gives each instance its own epoch, so a restart is never mistaken for continuity', async () => {
    const first = await memoryBroker().publish('agent:a', ev('a'))
    const second = await memoryBroker().publish('agent:a', ev('a'))
    expect(first.epoch).not.toBe(second.epoch)
  })

  it('reads exactly the events after a position inside the window', async () => {
    const broker = memoryBroker()
    const stored: StoredEvent[] = []
    for (let i = 1; i <= 10; i++) stored.push(await broker.publish('task:t', { type: 'task.progress', payload: { taskId: 't', progress: i } }))
    const epoch = stored[0]!.epoch
    const r = await broker.read('task:t', { epoch, seq: 6 })
    expect(r.ok && r.events.map((e) => e.seq)).toEqual([7, 8, 9, 10])
    expect(await broker.read('task:t', { epoch, seq: 10 })).toEqual({ ok: true, events: [] })
    expect(await broker.read('task:t', { epoch, seq: 0 })).toMatchObject({ ok: true, events: stored })
  })

  it('refuses a foreign epoch, a position from the future, and one older than the window', async () => {
    const broker = memoryBroker({ retention: { size: 5 } })
    let epoch = ''
    for (let i = 0; i < 12; i++) epoch = (await broker.publish('agent:a', ev('a', i))).epoch
    expect(await broker.read('agent:a', { epoch: 'other', seq: 11 })).toEqual({ ok: false, reason: 'epoch' })
    expect(await broker.read('agent:a', { epoch, seq: 13 })).toEqual({ ok: false, reason: 'future' })
    // Kept: 8..12. From 7 the first missing event (8) is kept; from 6 it (7) is gone.
    const r = await broker.read('agent:a', { epoch, seq: 7 })
    expect(r.ok && r.events.map((e) => e.seq)).toEqual([8, 9, 10, 11, 12])
    expect(await broker.read('agent:a', { epoch, seq: 6 })).toEqual({ ok: false, reason: 'window' })
    // An unknown channel is at seq 0 of the same epoch.
    expect(await broker.read('agent:none', { epoch, seq: 0 })).toEqual({ ok: true, events: [] })
    expect(await broker.read('agent:none', { epoch, seq: 1 })).toEqual({ ok: false, reason: 'future' })
  })

  it('drops events older than maxAgeMs from the window (injected clock)', async () => {
    const clock = fakeClock()
    const broker = memoryBroker({ retention: { size: 100, maxAgeMs: 1000 }, clock })
    const first = await broker.publish('agent:a', ev('a', 1))
    clock.advance(600)
    await broker.publish('agent:a', ev('a', 2))
    clock.advance(600) // the first is now 1200 ms old
    await broker.publish('agent:a', ev('a', 3))
    expect(await broker.read('agent:a', { epoch: first.epoch, seq: 0 })).toEqual({ ok: false, reason: 'window' })
    const r = await broker.read('agent:a', { epoch: first.epoch, seq: 1 })
    expect(r.ok && r.events.map((e) => e.seq)).toEqual([2, 3])
    clock.advance(5000) // everything aged out: only a position at the head can be honoured
    expect(await broker.read('agent:a', { epoch: first.epoch, seq: 2 })).toEqual({ ok: false, reason: 'window' })
    expect(await broker.read('agent:a', { epoch: first.epoch, seq: 3 })).toEqual({ ok: true, events: [] })
    expect(first.time).toBe(1_000_000)
  })

  it('keeps the window by size as a ring across many wraps', async () => {
    const broker = memoryBroker({ retention: { size: 3 } })
    let last!: StoredEvent
    for (let i = 0; i < 100; i++) last = await broker.publish('agent:a', ev('a', i))
    const r = await broker.read('agent:a', { epoch: last.epoch, seq: 97 })
    expect(r.ok && r.events.map((e) => e.seq)).toEqual([98, 99, 100])
  })

  it('snapshots position and state in O(1), and lists known channels by pattern', async () => {
    const broker = memoryBroker()
    await broker.publish('agent:a', ev('a'))
    await broker.publish('agent:b', ev('b'))
    await broker.publish('task:t', { type: 'task.started', payload: { taskId: 't' } })
    const snap = await broker.snapshot('agent:a')
    expect(snap).toMatchObject({ channel: 'agent:a', seq: 1 })
    expect(snap.state).toHaveProperty('agents')
    expect(await broker.snapshot('agent:zzz')).toMatchObject({ seq: 0, epoch: snap.epoch })
    expect(await broker.channels('agent:*')).toEqual(['agent:a', 'agent:b'])
    expect(await broker.channels('*')).toHaveLength(3)
    expect(await broker.channels('task:t')).toEqual(['task:t'])
    expect(await broker.channels('task:x')).toEqual([])
  })

  it('gives every quiet channel one frozen empty state, which a first event copies rather than changes', async () => {
    const broker = memoryBroker()
    const quiet = await broker.snapshot('agent:a')
    expect((await broker.snapshot('agent:b')).state).toBe(quiet.state)
    expect(Object.isFrozen(quiet.state) && Object.isFrozen(quiet.state.agents) && Object.isFrozen(quiet.state.notifications)).toBe(true)
    await broker.publish('agent:a', ev('a'))
    expect((await broker.snapshot('agent:a')).state.agents['a']).toMatchObject({ status: 'busy' })
    expect(quiet.state.agents).toEqual({})
    expect((await broker.snapshot('agent:b')).state).toBe(quiet.state)
  })

  it('fans out synchronously, in order, to exact and pattern subscribers until disposed', async () => {
    const broker = memoryBroker()
    const exact: number[] = []
    const pattern: string[] = []
    const all: string[] = []
    const offExact = await broker.subscribe('agent:a', { event: (e) => exact.push(e.seq) })
    await broker.subscribe('agent:*', { event: (e) => pattern.push(`${e.channel}#${e.seq}`) })
    await broker.subscribe('*', { event: (e) => all.push(e.channel) })
    void broker.publish('agent:a', ev('a'))
    // Synchronous: delivered before publish's promise is even awaited.
    expect(exact).toEqual([1])
    await broker.publish('agent:b', ev('b'))
    await broker.publish('task:t', { type: 'task.started', payload: { taskId: 't' } })
    await offExact()
    await broker.publish('agent:a', ev('a', 2))
    expect(exact).toEqual([1])
    expect(pattern).toEqual(['agent:a#1', 'agent:b#1', 'agent:a#2'])
    expect(all).toEqual(['agent:a', 'agent:b', 'task:t', 'agent:a'])
  })

  it('keeps fanning out when one listener throws, and reports it', async () => {
    const errors: unknown[] = []
    const broker = memoryBroker({ onListenerError: (e) => errors.push(e) })
    const got: number[] = []
    await broker.subscribe('agent:a', { event: () => { throw new Error('listener bug') } })
    await broker.subscribe('agent:a', { event: (e) => got.push(e.seq) })
    await broker.publish('agent:a', ev('a'))
    expect(got).toEqual([1])
    expect(errors).toHaveLength(1)
  })

  it('refuses to publish after close', async () => {
    const broker = memoryBroker()
    await broker.close()
    await expect(broker.publish('agent:a', ev('a'))).rejects.toThrow(/after close/)
  })
})
