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
  released: boolean
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

  function open(key: string): Entry {
    const receivers = new Set<FanoutReceiver>()
    const entry: Entry = {
      receivers,
      dispose: undefined,
      released: false,
      ready: broker
        .subscribe(key, {
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
        .then((dispose) => {
          entry.dispose = dispose
          if (entry.released) void dispose().catch(hooks.onError)
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
      entry.released = true
      if (entry.dispose) void entry.dispose().catch(hooks.onError)
    },
    counts() {
      const out: Record<string, number> = {}
      for (const [key, entry] of entries) out[key] = entry.receivers.size
      return out
    },
    async close() {
      const all = [...entries.values()]
      entries.clear()
      for (const entry of all) {
        entry.released = true
        entry.receivers.clear()
      }
      await Promise.all(all.map((e) => (e.dispose ? e.dispose().catch(hooks.onError) : undefined)))
    },
  }
}
