import type { Clock, TimerHandle } from './types'

export type { Clock, TimerHandle }

/**
 * The real clock: `Date.now()` (wall time, so a deadline notices a laptop that slept) and the
 * global timers. Timers are unref'ed where the handle allows it (Node), so a process whose
 * only remaining work is a client's heartbeat or retry timer can exit.
 */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle: unknown = globalThis.setTimeout(fn, ms)
    if (handle !== null && typeof handle === 'object' && typeof (handle as { unref?: unknown }).unref === 'function') {
      ;(handle as { unref(): void }).unref()
    }
    return handle
  },
  clearTimeout(handle: TimerHandle): void {
    globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0])
  },
}

/** One named timer slot: setting it again replaces the pending one, so a slot never holds two. */
export interface TimerSlot {
  set(ms: number, fn: () => void): void
  clear(): void
  readonly pending: boolean
}

export function timerSlot(clock: Clock): TimerSlot {
  let handle: TimerHandle | undefined
  let active = false
  return {
    set(ms, fn) {
      if (active) clock.clearTimeout(handle)
      active = true
      handle = clock.setTimeout(() => {
        active = false
        handle = undefined
        fn()
      }, Math.max(0, ms))
    },
    clear() {
      if (active) clock.clearTimeout(handle)
      active = false
      handle = undefined
    },
    get pending() {
      return active
    },
  }
}
