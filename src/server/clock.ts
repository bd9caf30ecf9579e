/** The time and timers the gateway and the memory broker use; tests inject a fake. */
export interface ServerClock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** `Date.now` and the global timers. Timers are unref'd so a forgotten gateway never holds the process open. */
export const realClock: ServerClock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms) as unknown as { unref?: () => void }
    handle.unref?.()
    return handle
  },
  clearTimeout: (handle) => clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
}
