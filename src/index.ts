/**
 * `agentwire`: the client core. `createClient(options)` connects to a gateway (or a seed
 * backend through its dialect), keeps the connection alive across drops, sleeps and restarts,
 * and delivers typed events exactly once and in order per channel into a store adapters read.
 */
export { createClient } from './client/client'
export type * from './client/types'
export { backoffDelay, backoffEnvelope, backoffPolicy, type BackoffPolicy } from './client/backoff'
export { realClock } from './client/clock'
export { webSocketTransport } from './client/websocket-transport'
export { share, shareKey, type BroadcastChannelLike, type LockManagerLike, type ShareOptions, type Shared } from './client/share'
export * from './client/transports/index'
export { shallowEqual } from './client/select'
// Augment it to type the hooks with the application's own events and commands (see defineEvents).
export type { Register, Registered } from 'agentwire/protocol'
export { createStore, type Store, type StoreOptions } from './client/store'
export { frame, relayStore, type Schedule } from './client/relay'
// The errors a client's promises reject with and its `error` event carries, and the codes they hold.
export {
  AgentwireError,
  ClientClosedError,
  CloseCode,
  ErrorCode,
  isRetryableClose,
  ProtocolError,
  TimeoutError,
  PROTOCOL_VERSION,
} from 'agentwire/protocol'
