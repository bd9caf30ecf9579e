import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createStore } from 'agentwire'
import { MAX_NOTIFICATIONS, createDraft, initialState, reduce, serializeState, type AgentEvent, type AgentwireState } from 'agentwire/protocol'
import { anyEvent, channel, listEvent } from './arbitraries'
import { ev, fold } from './fold'

const KEYED = ['agents', 'tasks', 'requests', 'sessions', 'chats', 'collections', 'metrics'] as const
const FIELDS = [...KEYED, 'knowledge', 'dashboard', 'notifications', 'decisions'] as const
const runs = { numRuns: 200 }

/** Freezes everything a snapshot reaches, so a later change to it throws instead of passing unseen. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}

/**
 * Between two reads, the batched state keeps or replaces each object exactly where folding
 * with `reduce` event by event keeps or replaces it: the root, each top-level field, and
 * each entity of every keyed collection.
 */
function expectSameSharing(prev: AgentwireState, next: AgentwireState, foldPrev: AgentwireState, foldNext: AgentwireState): void {
  expect(next === prev).toBe(foldNext === foldPrev)
  for (const field of FIELDS) expect([field, next[field] === prev[field]]).toEqual([field, foldNext[field] === foldPrev[field]])
  for (const name of KEYED) {
    const keys = new Set([...Object.keys(next[name]), ...Object.keys(foldNext[name])])
    for (const key of keys) {
      const kept = Object.hasOwn(prev[name], key) && next[name][key] === prev[name][key]
      const foldKept = Object.hasOwn(foldPrev[name], key) && foldNext[name][key] === foldPrev[name][key]
      expect([name, key, kept]).toEqual([name, key, foldKept])
    }
  }
}

/** A sequence of events, some followed by a read (a flush point). */
const batches = fc.oneof(
  fc.array(fc.tuple(channel, anyEvent, fc.boolean()), { maxLength: 80 }),
  // Reads are rarer here, so one entity's lists are edited many times within a batch.
  fc.array(fc.tuple(channel, listEvent, fc.integer({ min: 0, max: 9 }).map((n) => n < 2)), { maxLength: 80 }),
)

describe('batched folding: a draft, and the store built on it', () => {
  it('a draft read at random points equals folding with reduce, shares as reduce shares, and never changes a state it returned', () => {
    fc.assert(
      fc.property(batches, (items) => {
        const draft = createDraft()
        let state = initialState()
        let prev = draft.current()
        let foldPrev = state
        let frozen = JSON.stringify(serializeState(prev))
        deepFreeze(prev)
        for (const [, event, read] of items) {
          const before = state
          state = reduce(state, event)
          expect(draft.apply(event)).toBe(state !== before)
          if (!read) continue
          const now = draft.current()
          expect(now).toEqual(state)
          expectSameSharing(prev, now, foldPrev, state)
          expect(JSON.stringify(serializeState(prev))).toBe(frozen)
          prev = deepFreeze(now)
          foldPrev = state
          frozen = JSON.stringify(serializeState(prev))
        }
        expect(draft.current()).toEqual(state)
        expect(JSON.stringify(serializeState(prev))).toBe(frozen)
      }),
      runs,
    )
  })

  it('the store after each flush equals folding every event so far, and each channel its own events', () => {
    fc.assert(
      fc.property(batches, (items) => {
        const queue: Array<() => void> = []
        const store = createStore({ schedule: (flush) => void queue.push(flush) })
        let notified = 0
        store.subscribe(() => notified++)
        let state = initialState()
        const own = new Map<string, AgentwireState>()
        let prev = deepFreeze(store.getSnapshot())
        let foldPrev = state
        let changedSinceFlush = false
        for (const [ch, event, read] of items) {
          const before = state
          state = reduce(state, event)
          changedSinceFlush ||= state !== before
          own.set(ch, reduce(own.get(ch) ?? initialState(), event))
          store.apply(ch, event)
          if (!read) continue
          const heard = notified
          for (const flush of queue.splice(0)) flush()
          // A batch that changed nothing is not announced.
          expect(notified - heard).toBe(changedSinceFlush ? 1 : 0)
          changedSinceFlush = false
          const now = store.getSnapshot()
          expect(store.getSnapshot()).toBe(now)
          expect(now).toEqual(state)
          expectSameSharing(prev, now, foldPrev, state)
          // Reading a channel's state freezes it too; folding goes on from there.
          expect(store.channelState(ch)).toEqual(own.get(ch))
          deepFreeze(store.channelState(ch))
          prev = deepFreeze(now)
          foldPrev = state
        }
        expect(store.getSnapshot()).toEqual(state)
        for (const [ch, s] of own) expect(store.channelState(ch)).toEqual(s)
      }),
      runs,
    )
  })

  it('1,000 events in one batch end where folding them with reduce ends, and the snapshot before them is untouched', () => {
    const agents = ['planner', 'researcher', 'coder', 'reviewer', 'executor', 'critic', 'router', 'writer']
    const events: Array<[string, AgentEvent]> = []
    for (let i = 0; i < 1000; i++) {
      const a = agents[i % agents.length] as string
      const t = `t${i % 13}`
      const r = `r${i % 5}`
      switch (i % 6) {
        case 0:
          events.push([`agent:${a}`, ev('agent.status', { name: a, status: i % 3 === 0 ? 'busy' : 'available', load: (i % 100) / 100 })])
          break
        case 1:
          events.push([`task:${t}`, ev('task.progress', { taskId: t, progress: i % 101, message: 'step done' })])
          break
        case 2:
          events.push([`request:${r}`, ev('step.progress', { requestId: r, agent: a, step: i % 7, status: 'running', tool: 'search' })])
          break
        case 3:
          events.push([`task:${t}`, ev('routing.decision', { taskId: t, agent: { name: a, strengths: ['code'], cost: 0.2, latency: 120 }, timestamp: i })])
          break
        case 4:
          events.push(['metrics', ev('metrics.snapshot', { scope: 'system', values: { cpu: (i % 100) / 100, mem: 0.5 } })])
          break
        default:
          events.push(['global', ev('system.notification', { level: 'info', message: `n${i}`, timestamp: i })])
      }
    }
    const queue: Array<() => void> = []
    const store = createStore({ schedule: (flush) => void queue.push(flush) })
    let notified = 0
    store.subscribe(() => void notified++)
    // A first batch, read and frozen, so the big one starts from a snapshot a reader holds.
    const head = events.slice(0, 20)
    for (const [ch, e] of head) store.apply(ch, e)
    for (const flush of queue.splice(0)) flush()
    const before = deepFreeze(store.getSnapshot())
    const text = JSON.stringify(serializeState(before))
    for (const [ch, e] of events.slice(20)) store.apply(ch, e)
    expect(queue).toHaveLength(1)
    for (const flush of queue.splice(0)) flush()
    expect(notified).toBe(2)
    const after = store.getSnapshot()
    expect(after).toEqual(fold(events.map(([, e]) => e)))
    expect(JSON.stringify(serializeState(before))).toBe(text)
    for (const ch of new Set(events.map(([c]) => c))) {
      expect(store.channelState(ch)).toEqual(fold(events.filter(([c]) => c === ch).map(([, e]) => e)))
    }
  })

  it('a read during a batch sees the events so far and stays as it was when later events arrive', () => {
    const store = createStore({ schedule: () => {} })
    store.apply('agent:a', ev('agent.status', { name: 'a', status: 'busy' }))
    store.apply('agent:b', ev('agent.status', { name: 'b', status: 'busy' }))
    const mid = store.getSnapshot()
    expect(mid.agents['a']?.status).toBe('busy')
    const midA = mid.agents['a']
    store.apply('agent:a', ev('agent.status', { name: 'a', status: 'offline' }))
    store.apply('agent:c', ev('agent.status', { name: 'c', status: 'busy' }))
    expect(mid.agents['a']).toBe(midA)
    expect(midA?.status).toBe('busy')
    expect(Object.keys(mid.agents)).toEqual(['a', 'b'])
    const end = store.getSnapshot()
    expect(end.agents['a']?.status).toBe('offline')
    expect(end.agents['b']).toBe(mid.agents['b'])
    expect(Object.keys(end.agents)).toEqual(['a', 'b', 'c'])
  })

  it('a step whose order changes twice within one batch moves to its new place', () => {
    const step = (stepId: string, stepOrder: number) => ev('step.progress', { requestId: 'r', agent: 'a', step: 0, status: 'running', stepId, stepOrder })
    const events = [step('s1', 1), step('s2', 2), step('s1', 3), step('s1', 0)]
    const draft = createDraft()
    for (const e of events) draft.apply(e)
    const steps = draft.current().requests['r']?.steps.map((s) => [s.stepId, s.stepOrder])
    expect(steps).toEqual([['s1', 0], ['s2', 2]])
    expect(draft.current()).toEqual(fold(events))
  })

  it('bounded lists keep their newest entries at every read, however long the batch ran', () => {
    const note = (i: number) => ev('system.notification', { level: 'info', message: `n${i}`, timestamp: i })
    const events = Array.from({ length: 3 * MAX_NOTIFICATIONS + 7 }, (_, i) => note(i))
    const draft = createDraft()
    events.forEach((e, i) => {
      draft.apply(e)
      // Reads between the bound and twice the bound, and past it.
      if (i === MAX_NOTIFICATIONS + 10 || i === 2 * MAX_NOTIFICATIONS + 3) {
        const read = draft.current()
        expect(read.notifications).toHaveLength(MAX_NOTIFICATIONS)
        expect(read).toEqual(fold(events.slice(0, i + 1)))
      }
    })
    const end = draft.current()
    expect(end.notifications).toHaveLength(MAX_NOTIFICATIONS)
    expect(end.notifications[MAX_NOTIFICATIONS - 1]?.message).toBe(`n${events.length - 1}`)
    expect(end).toEqual(fold(events))
  })

  it('a draft nobody reads through long churn (entities made and deleted) still equals the fold', () => {
    // Past the point where the draft lets go of what it owns, so that deleted entities do not pile up.
    const events: AgentEvent[] = []
    for (let i = 0; i < 12_000; i++) {
      events.push(ev('chat.participant.joined', { chatId: `c${i % 3}`, participantId: `p${i}` }))
      events.push(ev('chat.deleted', { chatId: `c${(i + 1) % 3}` }))
    }
    const draft = createDraft()
    const start = deepFreeze(draft.current())
    for (const e of events) draft.apply(e)
    expect(draft.current()).toEqual(fold(events))
    expect(start).toEqual(initialState())
  })

  it('a store nobody listens to folds later (at a read, a snapshot, a forget, or after MAX_PENDING events) and ends where a listened one ends', () => {
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(fc.constant('apply' as const), channel, anyEvent) },
      { weight: 1, arbitrary: fc.tuple(fc.constant('replace' as const), channel, fc.array(anyEvent, { maxLength: 6 })) },
      { weight: 1, arbitrary: fc.tuple(fc.constant('forget' as const), channel, fc.constant([] as AgentEvent[])) },
      { weight: 1, arbitrary: fc.tuple(fc.constant('read' as const), channel, fc.constant([] as AgentEvent[])) },
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        // The listened store folds every event as it comes (its listener is told at once).
        const eager = createStore({ schedule: (flush) => flush() })
        eager.subscribe(() => undefined)
        const lazy = createStore({ schedule: () => expect.unreachable('nobody listens: no flush') })
        // A second unlistened store taking the same events in turn: each event it takes folds
        // the first one's waiting batch (one batch waits per process), and the other way round.
        const other = createStore({ schedule: () => expect.unreachable('nobody listens: no flush') })
        const names = new Set<string>()
        for (const [kind, ch, events] of ops) {
          names.add(ch)
          if (kind === 'apply') {
            const event = events as AgentEvent
            eager.apply(ch, event)
            lazy.apply(ch, event)
            other.apply(ch, event)
          } else if (kind === 'replace') {
            const snapshot = fold(events as AgentEvent[])
            eager.replace(ch, snapshot)
            lazy.replace(ch, snapshot)
            other.replace(ch, snapshot)
          } else if (kind === 'forget') {
            eager.forget(ch)
            lazy.forget(ch)
            other.forget(ch)
          } else {
            expect(lazy.getSnapshot()).toEqual(eager.getSnapshot())
            expect(lazy.channelState(ch)).toEqual(eager.channelState(ch))
            expect(other.channelState(ch)).toEqual(eager.channelState(ch))
          }
        }
        expect(lazy.getSnapshot()).toEqual(eager.getSnapshot())
        expect(other.getSnapshot()).toEqual(eager.getSnapshot())
        for (const ch of names) expect(lazy.channelState(ch)).toEqual(eager.channelState(ch))
      }),
      runs,
    )
  })

  it('an event whose fold throws is reported when the store folds it, and the events around it still fold', () => {
    const errors: unknown[] = []
    const store = createStore({ onReducerError: (name, error) => errors.push([name, (error as Error).message]) })
    const broken = {
      type: 'agent.status',
      get payload(): never {
        throw new Error('no payload')
      },
    } as unknown as AgentEvent
    store.apply('agent:a', ev('agent.status', { name: 'a', status: 'busy' }))
    store.apply('agent:a', broken)
    store.apply('agent:b', ev('agent.status', { name: 'b', status: 'offline' }))
    // Nobody listens: nothing is folded until the read.
    expect(errors).toEqual([])
    const state = store.getSnapshot()
    expect(errors).toEqual([['agent.status', 'no payload']])
    expect(state.agents['a']?.status).toBe('busy')
    expect(state.agents['b']?.status).toBe('offline')
  })

  it('one unlistened store batch waits per process: another store taking an event folds it first', () => {
    const errors: string[] = []
    const broken = {
      type: 'agent.status',
      get payload(): never {
        throw new Error('no payload')
      },
    } as unknown as AgentEvent
    const first = createStore({ onReducerError: () => void errors.push('first') })
    const second = createStore({ onReducerError: () => void errors.push('second') })
    first.apply('global', ev('agent.status', { name: 'a', status: 'busy' }))
    first.apply('global', broken)
    // The same store again: its batch keeps waiting.
    expect(errors).toEqual([])
    second.apply('global', ev('agent.status', { name: 'b', status: 'busy' }))
    expect(errors).toEqual(['first'])
    second.apply('global', broken)
    expect(errors).toEqual(['first'])
    first.apply('global', ev('agent.status', { name: 'a', status: 'offline' }))
    expect(errors).toEqual(['first', 'second'])
    expect(first.getSnapshot().agents['a']?.status).toBe('offline')
    expect(second.getSnapshot().agents['b']?.status).toBe('busy')
  })

  it('what a waiting store\'s error report throws when another store folds it reaches the runtime, not the other delivery', async () => {
    const thrown: unknown[] = []
    const onError = (error: unknown) => void thrown.push(error)
    process.on('uncaughtException', onError)
    try {
      const broken = {
        type: 'agent.status',
        get payload(): never {
          throw new Error('no payload')
        },
      } as unknown as AgentEvent
      const first = createStore({
        onReducerError: () => {
          throw new Error('report failed')
        },
      })
      const second = createStore()
      first.apply('global', broken)
      expect(() => second.apply('global', ev('agent.status', { name: 'b', status: 'busy' }))).not.toThrow()
      await new Promise((resolve) => setTimeout(resolve, 0))
      expect(thrown.map((e) => (e as Error).message)).toEqual(['report failed'])
      expect(second.getSnapshot().agents['b']?.status).toBe('busy')
    } finally {
      process.off('uncaughtException', onError)
    }
  })

  it('a read from inside a fold error report folds the events after it once, not twice', () => {
    const store = createStore({ onReducerError: () => void store.getSnapshot() })
    const broken = {
      type: 'agent.status',
      get payload(): never {
        throw new Error('no payload')
      },
    } as unknown as AgentEvent
    store.apply('global', broken)
    // Without a timestamp every notification is appended, so a second fold would show.
    store.apply('global', ev('system.notification', { level: 'info', message: 'once' }))
    expect(store.getSnapshot().notifications.map((n) => n.message)).toEqual(['once'])
  })

  it('a store nobody listens to schedules no flush; its first listener hears about the changes after it', () => {
    const queue: Array<() => void> = []
    const store = createStore({ schedule: (flush) => void queue.push(flush) })
    for (let i = 0; i < 100; i++) store.apply('agent:a', ev('agent.status', { name: 'a', status: i % 2 ? 'busy' : 'available' }))
    expect(queue).toHaveLength(0)
    expect(store.getSnapshot().agents['a']?.status).toBe('busy')
    let notified = 0
    store.subscribe(() => void notified++)
    store.apply('agent:a', ev('agent.status', { name: 'a', status: 'available' }))
    store.apply('agent:a', ev('agent.status', { name: 'a', status: 'busy' }))
    expect(queue).toHaveLength(1)
    for (const flush of queue.splice(0)) flush()
    expect(notified).toBe(1)
  })

  it('a draft nobody reads lets go of each entity a later event replaced or removed', async () => {
    // A client that only handles events never reads its store: an entity an event removed
    // must be garbage at once, not kept alive as "owned" until the draft starts over.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const draft = createDraft()
    // An agent made, changed in place (owned by then) and deleted; its record is what the WeakRef watches.
    const churn = (i: number): WeakRef<object> => {
      const agent = { role: 'worker', i }
      draft.apply(ev('agent.status', { name: `a${i}`, status: 'busy', agent }))
      draft.apply(ev('agent.status', { name: `a${i}`, status: 'available', load: 0.5 }))
      draft.apply(ev('agent.deleted', { agentId: `a${i}` }))
      return new WeakRef(agent)
    }
    const refs = Array.from({ length: 500 }, (_, i) => churn(i))
    // WeakRefs hold their target until the job that made them ends.
    await new Promise((resolve) => setTimeout(resolve, 0))
    gc()
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0)
    expect(draft.current()).toEqual(initialState())
  })

  it('a draft keeps ids that name prototype members as ordinary keys, in null-prototype records', () => {
    const draft = createDraft()
    for (const id of ['__proto__', 'constructor', 'toString']) {
      draft.apply(ev('agent.status', { name: id, status: 'busy' }))
      draft.apply(ev('task.progress', { taskId: id, progress: 5 }))
      draft.apply(ev('agent.status', { name: id, status: 'offline' }))
    }
    draft.apply(ev('agent.deleted', { agentId: 'constructor' }))
    const state = draft.current()
    for (const name of KEYED) expect(Object.getPrototypeOf(state[name])).toBeNull()
    expect(Object.keys(state.agents)).toEqual(['__proto__', 'toString'])
    expect(state.agents['__proto__']).toEqual({ name: '__proto__', status: 'offline' })
    expect(Object.keys(state.tasks)).toEqual(['__proto__', 'constructor', 'toString'])
    expect(({} as Record<string, unknown>)['status']).toBeUndefined()
  })
})
