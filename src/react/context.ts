'use client'
import { createContext, useContext } from 'react'
import type { Client } from 'agentwire'

/** The one client of an app, put here by `AgentwireProvider`. */
export const ClientContext = createContext<Client | null>(null)

/** The provider's client. Throws at once outside `<AgentwireProvider>`, saying what to do. */
export function useClient(): Client {
  const client = useContext(ClientContext)
  if (!client) {
    throw new Error('agentwire: this hook needs a client. Wrap the tree in <AgentwireProvider client={client}> or <AgentwireProvider options={{ url }}>.')
  }
  return client
}
