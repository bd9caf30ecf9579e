'use client'
/**
 * React bindings: one provider and hooks over the client's store (`useSyncExternalStore`).
 * react is an optional peer; nothing else in agentwire imports it.
 */
export { AgentwireProvider, type AgentwireProviderProps } from './provider'
export { useClient, type AnyClient, type Schedule } from './context'
export {
  useStore,
  useChannel,
  useConnectionState,
  useAgentStatus,
  useAgents,
  useTask,
  useSession,
  useRequest,
  useMessages,
  useEvent,
  useReduced,
  useCommand,
  type RequestHandle,
} from './hooks'
