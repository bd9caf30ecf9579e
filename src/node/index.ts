/**
 * Node: the client on `ws` (an optional peer, through isomorphic-ws), `ready()`, and event
 * streams as async iterators for scripts and services.
 */
export { createNodeClient, type NodeClient, type NodeClientOptions } from './client'
export { eventStream, EventOverflowError, type ChannelEvent, type EventStreamOptions } from './events'
