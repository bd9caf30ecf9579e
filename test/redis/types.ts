import type { RedisBroker } from 'agentwire/redis'
export type { AgentEvent } from 'agentwire/protocol'
export type StoredEvent = Awaited<ReturnType<RedisBroker['publish']>>
