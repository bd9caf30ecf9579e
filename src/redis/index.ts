/**
 * Scale out on Redis: a broker whose positions mean the same on every gateway, a publisher for
 * agent processes, and ingest of the seed backends' Redis channels. `redis` (node-redis) is an
 * optional peer that only this entry imports.
 */
export { redisBroker } from './redis-broker'
export type { RedisBroker, RedisBrokerOptions } from './redis-broker'
export { createPublisher } from './publisher'
export type { Publisher, PublisherOptions } from './publisher'
export { BrokerError } from './broker-error'
export { reconnectDelay } from './connection'
export type { RedisHeartbeatOptions, RedisReconnectOptions } from './connection'
export { ingestSeedChannels, decodeSeedMessage } from './ingest'
export type { Ingest, IngestOptions, IngestStats, SeedDecodeResult } from './ingest'
