import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createStore } from 'agentwire'
import { AgentEventSchema, initialState, parseState, replaceChannel, serializeState } from 'agentwire/protocol'
import { anyEvent, channel, rawEvent } from './arbitraries'
import { fold } from './fold'

const KEYED = ['agents', 'tasks', 'requests', 'sessions', 'chats', 'collections', 'metrics'] as const
const runs = { numRuns: 200 }

describe('reduce, for any sequence of valid events', () => {
  it('generates only events the schema accepts', () => {
    fc.assert(fc.property(rawEvent, (event) => AgentEventSchema.safeParse(event).success), runs)
  })

  it('the store, fed on any channels, ends where folding with reduce ends', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(channel, anyEvent), { maxLength: 60 }), (items) => {
        const store = createStore({ schedule: () => {} })
        for (const [ch, event] of items) store.apply(ch, event)
        expect(store.getSnapshot()).toEqual(fold(items.map(([, e]) => e)))
        for (const ch of new Set(items.map(([c]) => c))) {
          expect(store.channelState(ch)).toEqual(fold(items.filter(([c]) => c === ch).map(([, e]) => e)))
        }
      }),
      runs,
    )
  })

  it('is deterministic: folding the same events twice gives deep-equal states', () => {
    fc.assert(
      fc.property(fc.array(anyEvent, { maxLength: 60 }), (events) => {
        expect(fold(events)).toEqual(fold(events))
      }),
      runs,
    )
  })

  it('builds states that cross the wire unchanged and keep null-prototype collections', () => {
    fc.assert(
      fc.property(fc.array(anyEvent, { maxLength: 60 }), (events) => {
        const state = fold(events)
        for (const wire of [serializeState(state), state]) {
          const result = parseState(JSON.parse(JSON.stringify(wire)))
          expect(result.ok).toBe(true)
          if (result.ok) expect(result.state).toEqual(state)
        }
        for (const key of KEYED) expect(Object.getPrototypeOf(state[key])).toBeNull()
        expect(({} as Record<string, unknown>)['status']).toBeUndefined()
      }),
      runs,
    )
  })

  it('channels that miss events and catch up by snapshot end with the server state of each channel', () => {
    // Each step: the server folds an event on a channel; the client receives it, or misses it,
    // or (on a snapshot step) gets the channel's whole server state.
    const step = fc.oneof(
      fc.record({ kind: fc.constant('event' as const), ch: channel, event: anyEvent, missed: fc.boolean() }),
      fc.record({ kind: fc.constant('snapshot' as const), ch: channel }),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const store = createStore({ schedule: () => {} })
        const server = new Map<string, ReturnType<typeof initialState>>()
        const served = (ch: string) => server.get(ch) ?? initialState()
        for (const s of steps) {
          if (s.kind === 'event') {
            server.set(s.ch, fold([s.event], served(s.ch)))
            if (!s.missed) store.apply(s.ch, s.event)
          } else {
            store.replace(s.ch, served(s.ch))
            expect(store.channelState(s.ch)).toEqual(served(s.ch))
          }
        }
        // Caught up everywhere: every channel's own state is the server's.
        for (const ch of server.keys()) store.replace(ch, served(ch))
        for (const ch of server.keys()) expect(store.channelState(ch)).toEqual(served(ch))
        const channels = [...server.keys()]
        const only = channels[0]
        if (channels.length === 1 && only !== undefined) expect(store.getSnapshot()).toEqual(served(only))
      }),
      runs,
    )
  })

  it('a snapshot of the only channel brings the store to exactly that state', () => {
    fc.assert(
      fc.property(fc.array(anyEvent, { maxLength: 40 }), fc.array(anyEvent, { maxLength: 40 }), (seen, missed) => {
        const before = fold(seen)
        const after = fold(missed, before)
        expect(replaceChannel(before, before, after)).toEqual(after)
        expect(replaceChannel(initialState(), undefined, after)).toEqual(after)
      }),
      runs,
    )
  })
})
