import { channelMatches } from 'agentwire/protocol'
import type { BrokerListener, StoredEvent } from 'agentwire/server'

/** One subscribe call's listener, under the canonical channel or pattern it asked for. */
export interface ListenerEntry {
  readonly pattern: string
  readonly listener: BrokerListener
}

/**
 * The listeners of one broker, indexed so that a notification costs a lookup, not a pass over
 * every subscription of the gateway: concrete channels by name, patterns in a list. A listener
 * that throws is reported, never thrown into the delivery that called it.
 */
export interface ListenerIndex {
  add(entry: ListenerEntry): void
  remove(entry: ListenerEntry): void
  /** Whether some listener's channel or pattern covers `channel`. */
  wants(channel: string): boolean
  /** Hands an event to every listener that covers its channel, concrete ones first. */
  deliver(stored: StoredEvent): void
  /** Tells every listener that covers `channel` that events were skipped, and why. */
  resync(channel: string, reason: 'epoch' | 'gap'): void
  clear(): void
}

export function createListenerIndex(report: (error: Error) => void): ListenerIndex {
  // Both hold arrays replaced on every change (copy on write), so a delivery iterates them
  // without a copy while a listener may subscribe or dispose.
  const exact = new Map<string, readonly ListenerEntry[]>()
  let patterns: readonly ListenerEntry[] = []

  /** Every listener whose channel or pattern covers `channel`, concrete ones first. */
  function* listenersOf(channel: string): Generator<ListenerEntry> {
    const named = exact.get(channel)
    if (named) yield* named
    for (const e of patterns) if (channelMatches(e.pattern, channel)) yield e
  }

  function event(e: ListenerEntry, stored: StoredEvent): void {
    try {
      e.listener.event(stored)
    } catch (err) {
      report(err instanceof Error ? err : new Error(String(err)))
    }
  }

  return {
    add(entry) {
      if (entry.pattern.endsWith('*')) patterns = [...patterns, entry]
      else exact.set(entry.pattern, [...(exact.get(entry.pattern) ?? []), entry])
    },

    remove(entry) {
      if (entry.pattern.endsWith('*')) {
        patterns = patterns.filter((e) => e !== entry)
        return
      }
      const rest = (exact.get(entry.pattern) ?? []).filter((e) => e !== entry)
      if (rest.length > 0) exact.set(entry.pattern, rest)
      else exact.delete(entry.pattern)
    },

    wants(channel) {
      if (exact.has(channel)) return true
      for (const e of patterns) if (channelMatches(e.pattern, channel)) return true
      return false
    },

    deliver(stored) {
      const named = exact.get(stored.channel)
      if (named) for (const e of named) event(e, stored)
      for (const e of patterns) if (channelMatches(e.pattern, stored.channel)) event(e, stored)
    },

    resync(channel, reason) {
      for (const e of listenersOf(channel)) {
        if (!e.listener.resync) continue
        try {
          e.listener.resync(channel, reason)
        } catch (err) {
          report(err instanceof Error ? err : new Error(String(err)))
        }
      }
    },

    clear() {
      exact.clear()
      patterns = []
    },
  }
}
