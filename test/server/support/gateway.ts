import { createGateway, type Gateway, type TypedGatewayOptions } from 'agentwire/server'
import type { Registered } from 'agentwire/protocol'
import type { Registry } from './registry'

/** A gateway on 127.0.0.1 and a free port, closed after the test. */
export async function startGateway<E = Registered['events'], C = Registered['commands']>(registry: Registry, options: TypedGatewayOptions<E, C> = {}): Promise<Gateway<E>> {
  const gateway = createGateway<E, C>({ port: 0, host: '127.0.0.1', ...options })
  registry.track(() => gateway.close({ drainMs: 200 }))
  await gateway.ready
  return gateway
}

/** A canonical event for tests: an agent's status. */
export const status = (name: string, load = 0) => ({ type: 'agent.status' as const, payload: { name, status: 'busy' as const, load } })
