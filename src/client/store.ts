import {
  createDraft,
  initialState,
  isEventType,
  replaceChannel,
  type AgentEvent,
  type AgentwireState,
  type AnyEventDefinitions,
  type StateDraft,
  type UntypedEvent,
  type UserEvent,
} from 'agentwire/protocol'
import { heldBesides, indexEntities, shareEntities, type HoldersIndex } from './entities'

/**
 * The client's store: one merged state every adapter reads, plus each subscribed channel's
 * own state, kept so that a snapshot for a channel (after a gap or a rejoin) can replace
 * exactly that channel's part of the merged state.
 *
 * Listeners hear about changes once per batch: `apply` and `replace` only mark the store
 * dirty and ask `schedule` to run `flush` (once per batch); `flush` notifies when something
 * changed since the last notification. A burst of events decoded from one socket read
 * therefore costs one notification, not one per event. (Without listeners `apply` does not
 * even fold at once: see {@link MAX_PENDING}.) A flood arrives as many reads, each its
 * own batch; the React and Vue adapters coalesce those once more, to one per animation frame.
 *
 * It costs one copy per batch too: events fold into drafts (`createDraft`), which copy a
 * collection or an entity the first time a batch changes it and change that copy for the
 * rest of the batch. `getSnapshot()` (and `channelState`) freeze what was built so far: the
 * state a reader got never changes, and the next event copies again. So the snapshot keeps
 * the guarantees of a pure fold with `reduce` — equal to it, the same object until something
 * changed, an entity no event touched keeps its identity — at the cost of one copy per read
 * instead of one per event; a store nobody reads copies nothing after its first event.
 */
export interface Store {
  /** The merged state; the same object until something changed (structurally shared below). */
  getSnapshot(): AgentwireState
  /** Called after a batch changed the snapshot. Returns its disposer (idempotent). */
  subscribe(listener: () => void): () => void
  /**
   * Folds an event that arrived on `channel` into the merged state and into the channel's own,
   * and into the channel's reducer states (`events`); an untyped event changes nothing. While
   * nobody listens, the first two wait for the next read, snapshot or `forget`, or until
   * {@link MAX_PENDING} events wait.
   */
  apply(channel: string, event: AgentEvent | UserEvent | UntypedEvent): void
  /**
   * A snapshot of one channel: replaces the channel's state, and its part of the merged state,
   * and the channel's reducer states (`reduced`; none: every reducer back at its `initial`).
   */
  replace(channel: string, state: AgentwireState, reduced?: Readonly<Record<string, unknown>>): void
  /** The states of the application's reducers on `channel`, by name (absent: still `initial`). */
  reduced(channel: string): Readonly<Record<string, unknown>> | undefined
  /** The state built from `channel`'s events and snapshots only, if the channel is known. */
  channelState(channel: string): AgentwireState | undefined
  /** The channel is no longer subscribed: drop its own state; what it brought into the merged state stays. */
  forget(channel: string): void
  /** Notifies listeners now if the snapshot changed since the last notification. */
  flush(): void
  /** Back to the initial state, every channel forgotten; listeners are notified on the next flush. */
  clear(): void
}

export interface StoreOptions {
  /**
   * Runs `flush` later, once per batch of changes. Pass `(flush) => flush()` for synchronous
   * notification, or a frame scheduler (`requestAnimationFrame`) to coalesce per frame.
   * @default queueMicrotask
   */
  schedule?: (flush: () => void) => void
  /**
   * Receives what a listener threw. The other listeners are still called. Without it, each
   * error is rethrown in its own microtask, so it reaches the runtime's usual report
   * (`window.onerror`, Node's `uncaughtException`) without breaking the notification loop.
   * @default rethrow asynchronously
   */
  onError?: (error: unknown) => void
  /** The application's reducers, folded per channel beside the built-in state. @default none */
  events?: AnyEventDefinitions
  /**
   * Receives what a reducer threw (its state stays as it was): an application's, by its name, or
   * the built-in fold of an event (a bug), by the event's type. @default rethrow asynchronously
   */
  onReducerError?: (name: string, error: unknown) => void
}

/**
 * How many events a store nobody listens to takes before it folds them, when nothing reads it
 * sooner. A client that takes a burst of events (one socket read often holds dozens) folds them
 * together, touching the store's objects once per batch instead of once per event. A read folds
 * at once.
 */
export const MAX_PENDING = 32

/**
 * The settle of the one store whose events wait, if any: when another store of the same process
 * takes an event, the waiting one folds first. So a process holds at most one store's batch
 * unfolded. A process hosting many clients, each given one event now and then, folds each at once:
 * a batch per client would keep tens of thousands of parsed events alive across young-generation
 * collections (measured with 1,000 clients: scavenges of 6–10 ms instead of 2 ms, and old-space
 * growth), and memory that grows with the number of clients. Folding at once costs that process
 * a little more CPU per delivery (README, Benchmarks: latency).
 */
let waiting: (() => void) | undefined

/** Throws `error` in a microtask of its own: it reaches the runtime's usual report. */
const rethrow = (error: unknown) => queueMicrotask(() => { throw error })

export function createStore(options: StoreOptions = {}): Store {
  const schedule = options.schedule ?? ((flush: () => void) => queueMicrotask(flush))
  const onError = options.onError ?? rethrow
  const events = options.events && Object.keys(options.events.reducers).length > 0 ? options.events : undefined
  const onReducerError = options.onReducerError ?? ((_name: string, error: unknown) => onError(error))
  /** Each channel's reducer states, made on the channel's first event or snapshot. */
  const reducedStates = new Map<string, Readonly<Record<string, unknown>>>()

  // Drafts, not states: between two reads, each collection and entity is copied at most once
  // and later events change the copy in place; reading (`current()`) freezes what was built,
  // so a snapshot a reader holds is never changed, and the next event copies again. A store
  // nobody reads (a Node client that only handles events) never copies twice.
  const merged = createDraft()
  /** Each channel's own state. A channel may share the `merged` draft itself (see `sole`). */
  const channels = new Map<string, StateDraft>()
  // While one channel alone has built the merged state, its own state is that very draft,
  // and each event is folded once instead of twice: the common single-subscription case.
  let sole: string | undefined
  /** No channel has fed the store since it was created or cleared: the next one may share. */
  let fresh = true
  /** Counts changes; listeners hear about a batch when it moved since the last notification. */
  let version = 0
  let announced = 0
  let scheduled = false
  // One entry object per subscribe call, so subscribing a function twice needs two disposals.
  const listeners = new Set<{ readonly fn: () => void }>()

  /**
   * Built-in events taken and not folded yet, as channel, event, channel, event, …: see `apply`.
   * The first `held` slots are in use. Emptied by clearing those slots, not by `length = 0`,
   * which frees the array's storage: a client given one event at a time then allocated it anew
   * for every event (~170 bytes per delivery in a process hosting 1,000 clients).
   */
  const pending: Array<string | AgentEvent | undefined> = []
  let held = 0
  /**
   * Where `settle` is in `pending`: past each event before it is folded, so a read from inside
   * a fold's error report (which settles again) goes on from the next one instead of folding
   * the ones before it twice.
   */
  let cursor = 0

  /** No event waits any more: the slots cleared, and this store no longer the process's waiting one. */
  function empty(): void {
    pending.fill(undefined, 0, held)
    held = cursor = 0
    if (waiting === settle) waiting = undefined
  }

  function changed(): void {
    version++
    later()
  }

  /** Asks for a flush, unless one is asked already or nobody listens. */
  function later(): void {
    // Nobody to tell: no flush to schedule. A listener that subscribes later reads the snapshot
    // itself, and hears about the changes after it. (A Node client that only handles events
    // would otherwise queue a microtask per event for nothing.) The events taken meanwhile wait
    // unfolded (see `apply`), and bump the version when the first read folds them.
    if (scheduled || listeners.size === 0) return
    scheduled = true
    schedule(flush)
  }

  /** Folds the pending events, in the order they came; asks for a flush when that changed something. */
  function settle(): void {
    if (held === 0) return
    holders = undefined
    const before = version
    while (cursor < held) {
      const channel = pending[cursor] as string
      const event = pending[cursor + 1] as AgentEvent
      cursor += 2
      try {
        const own = channelDraft(channel)
        if (own !== merged) own.apply(event)
        if (merged.apply(event)) version++
      } catch (error) {
        onReducerError(event.type, error)
      }
    }
    empty()
    if (version !== before) later()
  }

  function flush(): void {
    scheduled = false
    settle()
    if (version === announced) return
    announced = version
    // Over a copy: a listener may subscribe or unsubscribe others while being notified.
    for (const entry of Array.from(listeners)) {
      // Already disposed during this round: a component that unmounted must not hear more.
      if (!listeners.has(entry)) continue
      try {
        entry.fn()
      } catch (error) {
        onError(error)
      }
    }
  }

  /** The draft of `channel`'s own state, made on its first event or snapshot. */
  function channelDraft(channel: string): StateDraft {
    let own = channels.get(channel)
    if (own !== undefined) return own
    if (fresh) {
      fresh = false
      own = merged
      sole = channel
    } else {
      if (sole !== undefined) {
        // A second channel: the first one's state stops being the merged one. Reading the
        // merged draft freezes it, so both continue from the same immutable state.
        channels.set(sole, createDraft(merged.current()))
        sole = undefined
      }
      own = createDraft()
    }
    channels.set(channel, own)
    return own
  }

  /**
   * Which channels' own states hold each entity, for snapshots of entities several channels
   * build (see `shareEntities`). Built when a snapshot first needs it, kept up to date by
   * snapshots, dropped by any event: a burst of snapshots (a pattern's resync, a new epoch)
   * builds it once instead of scanning every channel for each entity.
   */
  let holders: HoldersIndex | undefined

  function holdersIndex(): HoldersIndex {
    if (holders !== undefined) return holders
    holders = new Map()
    for (const [name, draft] of channels) indexEntities(holders, name, draft.current(), true)
    return holders
  }

  return {
    getSnapshot() {
      settle()
      return merged.current()
    },
    subscribe(fn) {
      const entry = { fn }
      listeners.add(entry)
      return () => {
        listeners.delete(entry)
      }
    },
    apply(channel, event) {
      if ('untyped' in event) return
      if (events !== undefined) {
        const before = reducedStates.get(channel)
        const after = events.fold(before, event, channel, onReducerError)
        if (after !== before && after !== undefined) {
          reducedStates.set(channel, after)
          changed()
        }
      }
      if (!isEventType(event.type)) return
      pending[held++] = channel
      pending[held++] = event as AgentEvent
      // Someone listens: folded now, and a flush asked only when it changed something.
      if (listeners.size > 0 || held >= 2 * MAX_PENDING) settle()
      else if (waiting !== settle) {
        // Another store's batch folds first: one batch waits per process (see `waiting`).
        const other = waiting
        waiting = settle
        try {
          other?.()
        } catch (error) {
          // What that store's reducer-error report threw belongs to it, not to this delivery.
          rethrow(error)
        }
      }
    },
    reduced: (channel) => reducedStates.get(channel),
    replace(channel, snapshot, reduced) {
      settle()
      if (events !== undefined) {
        if (reduced !== undefined) reducedStates.set(channel, reduced)
        else reducedStates.delete(channel)
        changed()
      }
      const own = channels.get(channel)
      const state = merged.current()
      const previous = own?.current()
      let next = replaceChannel(state, previous, snapshot)
      // Other channels may hold parts of the same entities: the snapshot replaces this channel's part only.
      if (own !== merged && channels.size > (own === undefined ? 0 : 1)) {
        const stateOf = (name: string) => channels.get(name)?.current()
        next = shareEntities(state, previous, snapshot, next, (collection, key, field) => heldBesides(holdersIndex(), stateOf, channel, collection, key, field))
      }
      if (holders !== undefined) {
        if (previous !== undefined) indexEntities(holders, channel, previous, false)
        indexEntities(holders, channel, snapshot, true)
      }
      fresh = false
      if (own === merged) {
        // A sole channel's merged result deep-equals the snapshot, so it stays shared.
        merged.reset(next)
      } else {
        if (sole !== undefined) {
          channels.set(sole, createDraft(state))
          sole = undefined
        }
        channels.set(channel, createDraft(snapshot))
        merged.reset(next)
      }
      if (next !== state) changed()
    },
    channelState(channel) {
      settle()
      return channels.get(channel)?.current()
    },
    forget(channel) {
      // What the channel brought into the merged state stays: its pending events too.
      settle()
      holders = undefined
      channels.delete(channel)
      reducedStates.delete(channel)
      if (channel === sole) sole = undefined
    },
    flush,
    clear() {
      empty()
      holders = undefined
      channels.clear()
      reducedStates.clear()
      sole = undefined
      fresh = true
      merged.reset(initialState())
      changed()
    },
  }
}
