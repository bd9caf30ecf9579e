'use client'
import { createContext, useContext } from 'react'
import type { AnyClient, Client } from 'agentwire'

export type { AnyClient, Schedule } from 'agentwire'

/** What `AgentwireProvider` puts here: its client, and the store subscription its hooks share. */
export interface Agentwire {
  readonly client: Client
  /** `client.subscribeStore`, coalesced by the provider's `schedule`. */
  readonly subscribe: (listener: () => void) => () => void
}

export const ClientContext = createContext<Agentwire | null>(null)

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
