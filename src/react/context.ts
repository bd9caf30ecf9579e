'use client'
import { createContext, useContext } from 'react'
import type { Client } from 'agentwire'

/** How a store change reaches the hooks: `notify` runs later, once per batch of changes. */
export type Schedule = (notify: () => void) => void

/** What `AgentwireProvider` puts here: its client, and the store subscription its hooks share. */
export interface Agentwire {
  readonly client: Client
  /** `client.subscribeStore`, coalesced by the provider's `schedule`. */
  readonly subscribe: (listener: () => void) => () => void
}

export const ClientContext = createContext<Agentwire | null>(null)

/**
 * The next frame where there is a display (`requestAnimationFrame`), else ~1/60 s later: a flood
 * of events costs at most one render per frame. A hidden tab runs no frames; its components
 * catch up on the first frame after it shows again (the store keeps folding meanwhile).
 */
export const frame: Schedule = (notify) => {
  typeof requestAnimationFrame == 'function' ? requestAnimationFrame(notify) : setTimeout(notify, 17)
}

/**
 * One store subscription per provider, made on its first listener and dropped after its last,
 * that tells every listener at the next `schedule`d turn: many store batches, one notification.
 * The hooks read `client.getSnapshot()` then, so they see the latest state, never a stale one.
 */
export function relay(client: Client, schedule: Schedule): Agentwire['subscribe'] {
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

/** The provider's client and subscription. Throws at once outside `<AgentwireProvider>`, saying what to do. */
export function useAgentwire(): Agentwire {
  const value = useContext(ClientContext)
  if (!value) {
    throw new Error('agentwire: this hook needs a client. Wrap the tree in <AgentwireProvider client={client}> or <AgentwireProvider options={{ url }}>.')
  }
  return value
}

/** The provider's client. Throws at once outside `<AgentwireProvider>`, saying what to do. */
export function useClient(): Client {
  return useAgentwire().client
}
