import { afterEach } from 'vitest'

/** Closes whatever a test opened and forgot: gateways, sockets, servers. Registered once per file. */
export interface Registry {
  track<T extends { close(): unknown } | (() => unknown)>(resource: T): T
}

export function createRegistry(): Registry {
  const resources: Array<() => unknown> = []
  afterEach(async () => {
    const all = resources.splice(0).reverse()
    for (const close of all) {
      try {
        await close()
      } catch {
        // Already closed.
      }
    }
  })
  return {
    track(resource) {
      resources.push(typeof resource === 'function' ? (resource as () => unknown) : () => (resource as { close(): unknown }).close())
      return resource
    },
  }
}
