import { createGateway, type Gateway, type GatewayOptions } from 'agentwire/server'
import type { Registry } from './registry'

/** A gateway on 127.0.0.1 and a free port, closed after the test. */
export async function startGateway(registry: Registry, options: GatewayOptions = {}): Promise<Gateway> {
  const gateway = createGateway({ port: 0, host: '127.0.0.1', ...options })
  registry.track(() => gateway.close({ drainMs: 200 }))
  await gateway.ready
  return gateway
}

/** A canonical event for tests: an agent's status. */
export const status = (name: string, load = 0) => ({ type: 'agent.status' as const, payload: { name, status: 'busy' as const, load } })
