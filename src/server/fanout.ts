import { encodeServerFrame } from 'agentwire/protocol'
import type { Broker, StoredEvent } from './broker'

/** A connection's side of the fan-out. */
export interface FanoutReceiver {
  /** A live event for the subscription `key`; `text` is the event frame, built once for every receiver. */
  deliver(key: string, event: StoredEvent, text: string): void
  /** The broker lost continuity on `channel` (under the subscription `key`). */
  resync(key: string, channel: string, reason: 'epoch' | 'gap'): void
}

/**
 * One broker subscription per channel or pattern for the whole gateway, shared by every
 * connection that holds it (ref-counted), so a thousand viewers of `agent:planner` cost the
 * broker one subscription, and each event is serialised once.
 */
export interface Fanout {
  /** Adds the receiver; resolves once the broker subscription is live (events from then on reach it). */
  acquire(key: string, receiver: FanoutReceiver): Promise<void>
  release(key: string, receiver: FanoutReceiver): void
  /** Receivers per key. */
  counts(): Record<string, number>
  close(): Promise<void>
}

interface Entry {
  readonly receivers: Set<FanoutReceiver>
  readonly ready: Promise<void>
  dispose: (() => Promise<void>) | undefined
}

/** The event frame's JSON text, cached per stored event so overlapping subscriptions share it too. */
const frameTexts = new WeakMap<StoredEvent, string>()
export function eventFrameText(stored: StoredEvent): string {
  let text = frameTexts.get(stored)
  if (text === undefined) {
    text = encodeServerFrame({ type: 'event', channel: stored.channel, epoch: stored.epoch, seq: stored.seq, time: stored.time, event: stored.event })
    frameTexts.set(stored, text)
  }
  return text
}

export function createFanout(broker: Broker, hooks: { onEvent?: () => void; onError?: (error: unknown) => void } = {}): Fanout {
  const entries = new Map<string, Entry>()
  /**
   * Broker subscriptions let go of and not yet gone, per key. A key wanted again waits for its
   * old subscription to be disposed before subscribing anew: otherwise the broker sees
   * subscribe while its unsubscribe is still on the wire, and the unsubscribe, answered last,
   * can take the new subscription down with it (Redis Pub/Sub: the channel is left while a
   * listener still counts on it), and every viewer of the key stalls without a word.
   */
  const leaving = new Map<string, Promise<void>>()

  function open(key: string): Entry {
    const receivers = new Set<FanoutReceiver>()
    const previous = leaving.get(key)
    const subscribe = () =>
      broker.subscribe(key, {
        event(stored) {
          hooks.onEvent?.()
          if (receivers.size === 0) return
          const text = eventFrameText(stored)
          // Iterate over a copy: a receiver may close (and release) while being delivered to.
          for (const receiver of [...receivers]) receiver.deliver(key, stored, text)
        },
        resync(channel, reason) {
          for (const receiver of [...receivers]) receiver.resync(key, channel, reason)
        },
      })
    const entry: Entry = {
      receivers,
      dispose: undefined,
      ready: (previous ? previous.then(subscribe) : subscribe()).then((dispose) => {
        entry.dispose = dispose
      }),
    }
    entries.set(key, entry)
    entry.ready.catch(() => {
      if (entries.get(key) === entry) entries.delete(key)
    })
    return entry
  }

  return {
    acquire(key, receiver) {
      const entry = entries.get(key) ?? open(key)
      entry.receivers.add(receiver)
      return entry.ready
    },
    release(key, receiver) {
      const entry = entries.get(key)
      if (!entry || !entry.receivers.delete(receiver) || entry.receivers.size > 0) return
      entries.delete(key)
      leave(key, entry)
    },
    counts() {
      const out: Record<string, number> = {}
      for (const [key, entry] of entries) out[key] = entry.receivers.size
      return out
    },
    async close() {
      const all = [...entries]
      entries.clear()
      for (const [key, entry] of all) {
        entry.receivers.clear()
        leave(key, entry)
      }
      await Promise.all(leaving.values())
    },
  }

  /** Disposes an entry's broker subscription once it exists (it may still be on its way); never rejects. */
  function leave(key: string, entry: Entry): void {
    const gone: Promise<void> = entry.ready
      .then(
        () => entry.dispose?.(),
        () => undefined,
      )
      .catch(hooks.onError)
      .then(() => {
        if (leaving.get(key) === gone) leaving.delete(key)
      })
    leaving.set(key, gone)
  }
}
