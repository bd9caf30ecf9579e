import { describe, expect, it, vi } from 'vitest'
import { createStore } from 'agentwire'
import { initialState, type AgentEvent } from 'agentwire/protocol'
import { ev, fold } from './fold'

/** A schedule the test runs by hand, so batching is observable without waiting. */
function manualSchedule() {
  const queue: Array<() => void> = []
  return {
    schedule: (flush: () => void) => void queue.push(flush),
    get pending() {
      return queue.length
    },
    run() {
      for (const fn of queue.splice(0)) fn()
    },
  }
}

const status = (name: string, s: 'available' | 'busy' | 'offline' = 'busy') => ev('agent.status', { name, status: s })

describe('createStore', () => {
  it('notifies once for 100 events applied in one tick (default microtask schedule)', async () => {
    const store = createStore()
    const listener = vi.fn()
    store.subscribe(listener)
    for (let i = 0; i < 100; i++) store.apply('global', ev('task.progress', { taskId: `t${i % 7}`, progress: i }))
    expect(listener).not.toHaveBeenCalled()
    await Promise.resolve()
    expect(listener).toHaveBeenCalledTimes(1)
    expect(Object.keys(store.getSnapshot().tasks)).toHaveLength(7)
  })

  it('asks the scheduler once per batch', () => {
    const s = manualSchedule()
    const store = createStore({ schedule: s.schedule })
    const listener = vi.fn()
    store.subscribe(listener)
    for (let i = 0; i < 100; i++) store.apply('global', status(`a${i}`))
    expect(s.pending).toBe(1)
    s.run()
    expect(listener).toHaveBeenCalledTimes(1)
    store.apply('global', status('a0', 'offline'))
    expect(s.pending).toBe(1)
    s.run()
    expect(listener).toHaveBeenCalledTimes(2)
  })

  it('keeps the snapshot identity until something changed, and does not notify for a no-op event', () => {
    const s = manualSchedule()
    const store = createStore({ schedule: s.schedule })
    const listener = vi.fn()
    store.subscribe(listener)
    store.apply('agent:a', status('a'))
    const first = store.getSnapshot()
    expect(store.getSnapshot()).toBe(first)
    s.run()
    store.apply('agent:a', status('a'))
    expect(store.getSnapshot()).toBe(first)
    expect(s.pending).toBe(0)
    store.apply('agent:b', status('b'))
    expect(store.getSnapshot()).not.toBe(first)
    expect(store.getSnapshot().agents['a']).toBe(first.agents['a'])
    s.run()
    expect(listener).toHaveBeenCalledTimes(2)
  })

  it('flush notifies at once, and only when the snapshot changed since the last notification', () => {
    const s = manualSchedule()
    const store = createStore({ schedule: s.schedule })
    const listener = vi.fn()
    store.subscribe(listener)
    store.flush()
    expect(listener).not.toHaveBeenCalled()
    store.apply('global', status('a'))
    store.flush()
    expect(listener).toHaveBeenCalledTimes(1)
    s.run()
    expect(listener).toHaveBeenCalledTimes(1)
  })

  it('an unsubscribed listener is not called, even when it was removed during the notification', () => {
    const store = createStore({ schedule: (flush) => flush() })
    const calls: string[] = []
    let offSecond = () => {}
    store.subscribe(() => {
      calls.push('first')
      offSecond()
    })
    offSecond = store.subscribe(() => calls.push('second'))
    const offThird = store.subscribe(() => {
      calls.push('third')
      // Subscribing during a notification takes effect from the next one.
      store.subscribe(() => calls.push('late'))
    })
    store.apply('global', status('a'))
    expect(calls).toEqual(['first', 'third'])
    offThird()
    offThird()
    store.apply('global', status('b'))
    expect(calls).toEqual(['first', 'third', 'first', 'late'])
  })

  it('a listener that throws does not stop the others; onError receives what it threw', () => {
    const errors: unknown[] = []
    const store = createStore({ schedule: (flush) => flush(), onError: (e) => errors.push(e) })
    const after = vi.fn()
    store.subscribe(() => {
      throw new Error('render failed')
    })
    store.subscribe(after)
    store.apply('global', status('a'))
    expect(after).toHaveBeenCalledTimes(1)
    expect(errors).toEqual([new Error('render failed')])
  })

  it('without onError, a listener error is rethrown in a later microtask', async () => {
    const store = createStore({ schedule: (flush) => flush() })
    const thrown = new Error('listener broke')
    const seen = new Promise<unknown>((resolve) => {
      const original = globalThis.queueMicrotask
      vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) =>
        original(() => {
          try {
            fn()
          } catch (error) {
            resolve(error)
          }
        }),
      )
    })
    const after = vi.fn()
    store.subscribe(() => {
      throw thrown
    })
    store.subscribe(after)
    store.apply('global', status('a'))
    expect(after).toHaveBeenCalledTimes(1)
    await expect(seen).resolves.toBe(thrown)
  })

  it('keeps each channel its own state next to the merged one', () => {
    const store = createStore({ schedule: () => {} })
    store.apply('agent:a', status('a'))
    store.apply('agent:b', status('b'))
    expect(Object.keys(store.getSnapshot().agents)).toEqual(['a', 'b'])
    expect(Object.keys(store.channelState('agent:a')?.agents ?? {})).toEqual(['a'])
    expect(store.channelState('nope')).toBeUndefined()
    store.forget('agent:a')
    expect(store.channelState('agent:a')).toBeUndefined()
    expect(Object.keys(store.getSnapshot().agents)).toEqual(['a', 'b'])
  })

  it('a snapshot replaces only its channel part of the merged state', () => {
    const s = manualSchedule()
    const store = createStore({ schedule: s.schedule })
    store.apply('agent:a', status('a'))
    store.apply('agent:a', status('a2'))
    store.apply('agent:b', status('b'))
    s.run()
    const before = store.getSnapshot()
    const listener = vi.fn()
    store.subscribe(listener)
    // While away, a2 was deleted on the channel and a went offline.
    store.replace('agent:a', fold([status('a', 'offline')]))
    s.run()
    expect(listener).toHaveBeenCalledTimes(1)
    const after = store.getSnapshot()
    expect(Object.keys(after.agents).sort()).toEqual(['a', 'b'])
    expect(after.agents['a']?.status).toBe('offline')
    expect(after.agents['b']).toBe(before.agents['b'])
    expect(store.channelState('agent:a')?.agents['a']?.status).toBe('offline')
    // The same snapshot again changes nothing: no notification.
    store.replace('agent:a', fold([status('a', 'offline')]))
    expect(s.pending).toBe(0)
    // Events after the snapshot continue from it.
    store.apply('agent:a', status('a', 'available'))
    expect(store.channelState('agent:a')?.agents['a']?.status).toBe('available')
  })

  it('clear empties everything and notifies', () => {
    const s = manualSchedule()
    const store = createStore({ schedule: s.schedule })
    const listener = vi.fn()
    store.subscribe(listener)
    store.apply('global', status('a'))
    s.run()
    store.clear()
    s.run()
    expect(listener).toHaveBeenCalledTimes(2)
    expect(store.getSnapshot()).toEqual(initialState())
    expect(store.channelState('global')).toBeUndefined()
  })

  it('the merged state equals folding every event in arrival order, whatever the channels', () => {
    const events: Array<[string, AgentEvent]> = [
      ['request:r', ev('request.started', { requestId: 'r', query: 'q' })],
      ['agent:x', status('x')],
      ['request:r', ev('request.question', { requestId: 'r', questionId: 'q', question: '?' })],
      ['global', ev('system.notification', { level: 'info', message: 'hi' })],
    ]
    const store = createStore({ schedule: () => {} })
    for (const [channel, event] of events) store.apply(channel, event)
    expect(store.getSnapshot()).toEqual(fold(events.map(([, e]) => e)))
  })
})
