import type { Client } from './types'

/** How a store change reaches an adapter's components: `notify` runs later, once per batch. */
export type Schedule = (notify: () => void) => void

/**
 * The next frame where there is a display (`requestAnimationFrame`), else ~1/60 s later: a flood
 * of events costs at most one render per frame. A hidden tab runs no frames; its components
 * catch up on the first frame after it shows again (the store keeps folding meanwhile).
 */
export const frame: Schedule = (notify) => {
  typeof requestAnimationFrame == 'function' ? requestAnimationFrame(notify) : setTimeout(notify, 17)
}

/**
 * `client.subscribeStore` coalesced by `schedule`: one store subscription, made on the first
 * listener and dropped after the last, that tells every listener at the next scheduled turn
 * (many store batches, one notification). Listeners read `client.getSnapshot()` then, so they
 * see the latest state, never a stale one. The React and Vue adapters share one per client.
 */
export function relayStore(client: Client, schedule: Schedule = frame): (listener: () => void) => () => void {
  const listeners = new Set<() => void>()
  let off: (() => void) | undefined
  let pending = false
  const notify = () => {
    pending = false
    // A Set visits what is added during the loop and skips what is removed.
    listeners.forEach((listener) => listener())
  }
  return (listener) => {
    off ??= client.subscribeStore(() => {
      if (!pending) (pending = true), schedule(notify)
    })
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
      if (!listeners.size && off) off(), (off = undefined)
    }
  }
}
