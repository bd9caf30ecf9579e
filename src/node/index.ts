/**
 * Node: the client on `ws` (a dependency of the package), `ready()`, and event
 * streams as async iterators for scripts and services.
 */
export { createNodeClient, type NodeClient, type NodeClientOptions } from './client'
export { eventStream, EventOverflowError, type ChannelEvent, type EventStreamOptions } from './events'
