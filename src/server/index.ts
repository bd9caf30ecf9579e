export type { Broker, BrokerListener, ChannelSnapshot, Head, ReadResult, RetentionOptions, StoredEvent } from './broker'
export { memoryBroker, DEFAULT_RETENTION_MAX_AGE_MS, DEFAULT_RETENTION_SIZE, type MemoryBrokerOptions } from './memory-broker'
export { createGateway, type Gateway, type GatewayCommand, type PublishEvent, type TypedGatewayOptions } from './gateway'
export { aguiSource, type AguiSource, type AguiSourceOptions } from './agui-source'
export { aguiEndpoint, type AguiEndpoint, type AguiEndpointOptions } from './agui-endpoint'
export { createGatewayCore, type GatewayCloseOptions, type GatewayCore } from './core'
export type { GatewayConnection, GatewaySocket, IncomingFrame } from './connection'
export { bindWebSocket, type WebSocketBinding, type WebSocketBindingOptions } from './ws'
export { eventFrameText } from './fanout'
export { realClock, type ServerClock } from './clock'
export type { DropCause, GatewayStats } from './stats'
export {
  ANONYMOUS,
  DEFAULT_HEARTBEAT,
  DEFAULT_LIMITS,
  DEFAULT_TOKEN_EXPIRY,
  type AuthOutcome,
  type AuthorizeAction,
  type CommandContext,
  type CommandFrame,
  type GatewayCoreOptions,
  type GatewayHeartbeat,
  type GatewayLimits,
  type GatewayLogger,
  type GatewayOptions,
  type GatewayPublish,
  type HandshakeInfo,
  type LogEntry,
  type Principal,
  type TokenExpiryOptions,
} from './options'
export { startSimulator, DEFAULT_FLEET } from './simulator'
export type { Simulator, SimulatorOptions, SimulatorTarget, SimulatorClock, SimulatedAgent, SimulatorCommand, SimulatorCommandResult, SimulatorCommandContext } from './simulator'
export { dashboardHandler, DASHBOARD_CHANNELS } from './dashboard/index'
export type { DashboardOptions, HttpHandler } from './dashboard/index'
export { createHttpFallback, type HttpFallback, type HttpFallbackOptions } from './http-transport'
