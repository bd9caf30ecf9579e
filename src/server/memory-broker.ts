import { applyReducers, channelMatches, initialState, reduce, type AnyEventDefinitions } from 'agentwire/protocol'
import type { AgentEvent, AgentwireState } from 'agentwire/protocol'
import type { Broker, BrokerListener, ChannelSnapshot, Head, ReadResult, RetentionOptions, StoredEvent } from './broker'
import { realClock, type ServerClock } from './clock'

export interface MemoryBrokerOptions {
  /** The replay window kept per channel. @default { size: 1000, maxAgeMs: 120000 } */
  retention?: RetentionOptions
  /** The application's reducers, kept in each channel's snapshot (see `Broker.define`). @default none */
  events?: AnyEventDefinitions
  /** Where the broker reads the time (event `time`, window age). @default the real clock */
  clock?: Pick<ServerClock, 'now'>
  /**
   * The epoch of every channel of this broker. A fresh random one per instance, so positions
   * handed out before a restart are never trusted after it.
   * @default a random UUID
   */
  epoch?: string
  /** A listener threw: the broker keeps fanning out to the others and reports it here. @default ignored */
  onListenerError?: (error: unknown) => void
}

export const DEFAULT_RETENTION_SIZE = 1000

/**
 * The state of a channel with no events, shared by every such channel and snapshot: `reduce`
 * copies what it changes, so nothing writes into it (frozen to make sure). A thousand clients
 * joining a quiet channel then get one state, not a thousand, and one serialized form of it
 * (the gateway serializes each state object once: `wireState` in subscriptions.ts).
 */
const EMPTY_STATE: AgentwireState = freezeState(initialState())

function freezeState(state: AgentwireState): AgentwireState {
  for (const part of Object.values(state)) if (part !== null && typeof part === 'object') Object.freeze(part)
  return Object.freeze(state)
}
export const DEFAULT_RETENTION_MAX_AGE_MS = 120_000

/** One channel's log: a ring of the newest events and the state folded from all of them. */
interface ChannelLog {
  seq: number
  /** Its birth: the count of channels born in this broker when its first event came. */
  readonly born: number
  /** Ring buffer of at most `size` events; `start` is the index of the oldest. */
  ring: StoredEvent[]
  start: number
  state: AgentwireState
  /** The application's reducer states (`define`), made on the first event a reducer folds. */
  reduced?: Readonly<Record<string, unknown>>
}

/**
 * The embedded broker: one process, no persistence. Positions are `(epoch, seq)` per channel;
 * the epoch is new for every instance, so a restarted gateway tells its clients to resync
 * instead of replaying from a log it no longer has. Fan-out is synchronous and in publish
 * order, which is what lets the gateway promise no gap between a replay and live events.
 */
export function memoryBroker(options: MemoryBrokerOptions = {}): Broker {
  const size = Math.max(1, Math.floor(options.retention?.size ?? DEFAULT_RETENTION_SIZE))
  const maxAgeMs = options.retention?.maxAgeMs ?? DEFAULT_RETENTION_MAX_AGE_MS
  const clock = options.clock ?? realClock
  const epoch = options.epoch ?? globalThis.crypto.randomUUID()
  const logs = new Map<string, ChannelLog>()
  let events = options.events && Object.keys(options.events.reducers).length > 0 ? options.events : undefined
  // Exact channels are looked up directly; only patterns are scanned on each publish.
  const exact = new Map<string, Set<BrokerListener>>()
  const patterns = new Map<string, Set<BrokerListener>>()
  let births = 0
  let closed = false

  function logOf(channel: string): ChannelLog {
    let log = logs.get(channel)
    if (!log) {
      log = { seq: 0, born: ++births, ring: [], start: 0, state: EMPTY_STATE }
      logs.set(channel, log)
    }
    return log
  }

  /** The kept events, oldest first, after dropping those past the age limit. */
  function kept(log: ChannelLog): StoredEvent[] {
    const ordered = log.ring.length < size ? log.ring : [...log.ring.slice(log.start), ...log.ring.slice(0, log.start)]
    const oldestAllowed = clock.now() - maxAgeMs
    let first = 0
    while (first < ordered.length && ordered[first]!.time < oldestAllowed) first++
    if (first > 0) {
      // Compact: aged-out events leave the ring for good.
      log.ring = ordered.slice(first)
      log.start = 0
      return log.ring
    }
    return ordered
  }

  function emit(listeners: Set<BrokerListener> | undefined, stored: StoredEvent): void {
    if (!listeners) return
    for (const listener of [...listeners]) {
      try {
        listener.event(stored)
      } catch (error) {
        options.onListenerError?.(error)
      }
    }
  }

  return {
    name: 'memory',

    publish(channel: string, event: AgentEvent): Promise<StoredEvent> {
      if (closed) return Promise.reject(new Error('memoryBroker: publish() after close(); create a new broker.'))
      const log = logOf(channel)
      const stored: StoredEvent = Object.freeze({ channel, epoch, seq: log.seq + 1, time: clock.now(), event })
      log.seq = stored.seq
      if (log.ring.length < size) log.ring.push(stored)
      else {
        log.ring[log.start] = stored
        log.start = (log.start + 1) % size
      }
      log.state = reduce(log.state, event)
      if (events !== undefined) log.reduced = applyReducers(events, log.reduced, event, channel, (_name, error) => options.onListenerError?.(error))
      emit(exact.get(channel), stored)
      for (const [pattern, listeners] of patterns) if (channelMatches(pattern, channel)) emit(listeners, stored)
      return Promise.resolve(stored)
    },

    subscribe(pattern: string, listener: BrokerListener): Promise<() => Promise<void>> {
      const table = pattern.endsWith('*') ? patterns : exact
      let listeners = table.get(pattern)
      if (!listeners) {
        listeners = new Set()
        table.set(pattern, listeners)
      }
      // Registered before the promise resolves: nothing published after this call is missed.
      listeners.add(listener)
      const set = listeners
      return Promise.resolve(() => {
        set.delete(listener)
        if (set.size === 0 && table.get(pattern) === set) table.delete(pattern)
        return Promise.resolve()
      })
    },

    read(channel: string, from: Head): Promise<ReadResult> {
      // seq 0 is "from the first event", whatever the epoch (a channel born under a pattern).
      if (from.seq > 0 && from.epoch !== epoch) return Promise.resolve({ ok: false, reason: 'epoch' })
      const log = logs.get(channel)
      const head = log?.seq ?? 0
      if (from.seq > head) return Promise.resolve({ ok: false, reason: 'future' })
      if (!log || from.seq === head) return Promise.resolve({ ok: true, events: [] })
      const events = kept(log)
      const oldest = events.length > 0 ? events[0]!.seq : head + 1
      // The window reaches back if the first missing event is still kept.
      if (from.seq < oldest - 1) return Promise.resolve({ ok: false, reason: 'window' })
      return Promise.resolve({ ok: true, events: events.slice(from.seq - (oldest - 1)) })
    },

    snapshot(channel: string): Promise<ChannelSnapshot> {
      const log = logs.get(channel)
      const reduced = log?.reduced
      return Promise.resolve({ channel, epoch, seq: log?.seq ?? 0, state: log?.state ?? EMPTY_STATE, ...(reduced ? { reduced } : {}) })
    },

    channels(pattern: string): Promise<string[]> {
      if (!pattern.endsWith('*')) return Promise.resolve(logs.has(pattern) ? [pattern] : [])
      const out: string[] = []
      for (const channel of logs.keys()) if (channelMatches(pattern, channel)) out.push(channel)
      return Promise.resolve(out)
    },

    watermark(): Promise<Head> {
      return Promise.resolve({ epoch, seq: births })
    },

    bornAfter(pattern: string, mark: Head): Promise<Map<string, number>> {
      const after = mark.epoch === epoch ? mark.seq : 0
      const out = new Map<string, number>()
      for (const [channel, log] of logs) if (log.born > after && channelMatches(pattern, channel)) out.set(channel, log.born)
      return Promise.resolve(out)
    },

    define(definitions) {
      events = Object.keys(definitions.reducers).length > 0 ? definitions : undefined
    },

    close(): Promise<void> {
      closed = true
      exact.clear()
      patterns.clear()
      return Promise.resolve()
    },
  }
}
