import { channelMatches, parseChannel, type AgentwireError } from 'agentwire/protocol'
import type { Subscription, SubscriptionStatus } from './types'

/**
 * Subscriptions are owned objects that outlive sockets. Each `client.subscribe()` returns its
 * own handle; handles on the same canonical channel share one wire subscription, so two
 * components watching `agent:planner` cost one `subscribe`, and only the last `unsubscribe()`
 * sends one.
 */
export interface WireSubscription {
  /** The canonical channel or pattern. */
  readonly channel: string
  readonly pattern: boolean
  status: SubscriptionStatus
  error: AgentwireError | undefined
  /** The connection generation this subscription was last sent on (0: not sent yet). */
  sentOn: number
  /** Temporary refusals in a row, for the retry backoff. */
  failures: number
  readonly handles: Set<SubscriptionHandle>
  readonly ready: Promise<void>
  settle(error?: AgentwireError): void
  /** The subscription's `ready` is settled: later outcomes only change `status`. */
  settled: boolean
}

export interface SubscriptionHandle extends Subscription {
  readonly wire: WireSubscription
}

/** Parses a channel name for `subscribe()`: the canonical form, or an error that says what to pass instead. */
export function canonicalChannel(input: unknown): { channel: string; pattern: boolean } {
  const check = parseChannel(input)
  if (!check.ok) {
    throw new TypeError(
      `agentwire: cannot subscribe: ${check.reason}. Pass a channel such as 'agent:planner', 'request:<id>', 'knowledge' or a pattern such as 'agent:*'.`,
    )
  }
  return { channel: check.channel, pattern: check.pattern }
}

function createWire(channel: string, pattern: boolean): WireSubscription {
  let resolve!: () => void
  let reject!: (error: AgentwireError) => void
  const ready = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A refusal is also reported on the subscription and the client's `error` event; nobody is
  // obliged to await `ready`, so its rejection must not be an unhandled one.
  ready.catch(() => {})
  const wire: WireSubscription = {
    channel,
    pattern,
    status: 'unsubscribed',
    error: undefined,
    sentOn: 0,
    failures: 0,
    handles: new Set(),
    ready,
    settled: false,
    settle(error) {
      if (wire.settled) return
      wire.settled = true
      if (error) reject(error)
      else resolve()
    },
  }
  return wire
}

export interface SubscriptionRegistry {
  /** A new handle on `channel` (canonical); `created` is true when this is the channel's first. */
  acquire(channel: string, pattern: boolean): { handle: SubscriptionHandle; created: boolean }
  get(channel: string): WireSubscription | undefined
  all(): WireSubscription[]
  /** Wire subscriptions that receive events of a concrete channel. */
  covering(channel: string): WireSubscription[]
  /** Whether any subscription still covers a concrete channel. */
  covers(channel: string): boolean
  size(): number
}

/**
 * @param onLastRelease called when the last handle of a wire subscription is released; the
 * subscription is already out of the registry.
 */
export function createSubscriptionRegistry(onLastRelease: (wire: WireSubscription) => void): SubscriptionRegistry {
  const wires = new Map<string, WireSubscription>()

  const release = (handle: SubscriptionHandle, released: { value: boolean }) => {
    if (released.value) return
    released.value = true
    const wire = handle.wire
    wire.handles.delete(handle)
    if (wire.handles.size > 0 || wires.get(wire.channel) !== wire) return
    wires.delete(wire.channel)
    wire.status = 'unsubscribed'
    onLastRelease(wire)
  }

  return {
    acquire(channel, pattern) {
      let wire = wires.get(channel)
      const created = wire === undefined
      if (wire === undefined) wires.set(channel, (wire = createWire(channel, pattern)))
      const w = wire
      const released = { value: false }
      const handle: SubscriptionHandle = {
        wire: w,
        channel,
        get status() {
          return released.value ? 'unsubscribed' : w.status
        },
        get error() {
          return w.error
        },
        ready: w.ready,
        unsubscribe() {
          release(handle, released)
        },
      }
      w.handles.add(handle)
      return { handle, created }
    },
    get: (channel) => wires.get(channel),
    all: () => [...wires.values()],
    covering(channel) {
      const out: WireSubscription[] = []
      for (const wire of wires.values()) if (channelMatches(wire.channel, channel)) out.push(wire)
      return out
    },
    covers(channel) {
      // Every event asks: a channel subscribed by name is found by key, without a walk over every subscription.
      if (wires.has(channel)) return true
      for (const wire of wires.values()) if (channelMatches(wire.channel, channel)) return true
      return false
    },
    size: () => wires.size,
  }
}
