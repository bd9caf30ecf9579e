import type { RedisBroker } from 'agentwire/server'
export type { AgentEvent } from 'agentwire/protocol'
export type StoredEvent = Awaited<ReturnType<RedisBroker['publish']>>
