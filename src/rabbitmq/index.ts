/**
 * Ingest of a RabbitMQ topic exchange, as the seed backends' agents publish to it, into a broker
 * or gateway as positioned canonical events. `amqplib` is an optional peer that only this entry
 * imports.
 */
export { ingestRabbitMQ } from './ingest'
export type { IngestTarget, RabbitIngest, RabbitIngestOptions, RabbitIngestStats } from './ingest'
export { decodeExchangeMessage } from './decode'
export type { ExchangeDecodeResult, ExchangeDecoder, ExchangeDialect, ExchangeMessage } from './decode'
