import { initialState, reduce, replaceChannel, type AgentEvent, type AgentwireState } from 'agentwire/protocol'

/**
 * The client's store: one merged state every adapter reads, plus each subscribed channel's
 * own state, kept so that a snapshot for a channel (after a gap or a rejoin) can replace
 * exactly that channel's part of the merged state.
 *
 * Listeners hear about changes once per batch: `apply` and `replace` only mark the store
 * dirty and ask `schedule` to run `flush` (once per batch); `flush` notifies when the
 * snapshot's identity differs from the one last announced. A burst of events decoded from
 * one socket read therefore costs one render, not one per event.
 */
export interface Store {
  /** The merged state; the same object until something changed (structurally shared below). */
  getSnapshot(): AgentwireState
  /** Called after a batch changed the snapshot. Returns its disposer (idempotent). */
  subscribe(listener: () => void): () => void
  /** Folds an event that arrived on `channel` into the merged state and into the channel's own. */
  apply(channel: string, event: AgentEvent): void
  /** A snapshot of one channel: replaces the channel's state, and its part of the merged state. */
  replace(channel: string, state: AgentwireState): void
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
}

export function createStore(options: StoreOptions = {}): Store {
  const schedule = options.schedule ?? ((flush: () => void) => queueMicrotask(flush))
  const onError = options.onError ?? ((error: unknown) => queueMicrotask(() => { throw error }))

  let state = initialState()
  let announced = state
  // While one channel alone has built the merged state, its own state is that very object,
  // and each event is reduced once instead of twice: the common single-subscription case.
  let pristine: AgentwireState | undefined = state
  let scheduled = false
  const channels = new Map<string, AgentwireState>()
  // One entry object per subscribe call, so subscribing a function twice needs two disposals.
  const listeners = new Set<{ readonly fn: () => void }>()

  function changed(): void {
    if (scheduled) return
    scheduled = true
    schedule(flush)
  }

  function flush(): void {
    scheduled = false
    if (state === announced) return
    announced = state
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

  return {
    getSnapshot: () => state,
    subscribe(fn) {
      const entry = { fn }
      listeners.add(entry)
      return () => {
        listeners.delete(entry)
      }
    },
    apply(channel, event) {
      let own = channels.get(channel)
      if (own === undefined) {
        own = state === pristine && channels.size === 0 ? state : initialState()
        pristine = undefined
      }
      const next = reduce(state, event)
      // Sharing: the channel's state is the merged one, so the fold above is its fold too.
      channels.set(channel, own === state ? next : reduce(own, event))
      if (next === state) return
      state = next
      changed()
    },
    replace(channel, snapshot) {
      const own = channels.get(channel)
      const next = replaceChannel(state, own, snapshot)
      // A sole channel's merged result deep-equals the snapshot, so it stays shared.
      channels.set(channel, own !== undefined && own === state ? next : snapshot)
      pristine = undefined
      if (next === state) return
      state = next
      changed()
    },
    channelState: (channel) => channels.get(channel),
    forget(channel) {
      channels.delete(channel)
    },
    flush,
    clear() {
      channels.clear()
      state = initialState()
      pristine = state
      changed()
    },
  }
}
