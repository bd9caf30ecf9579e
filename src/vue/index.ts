/**
 * Vue bindings: a plugin (`app.use(agentwire, { url })`), `provideAgentwire`, and composables
 * returning readonly refs over the client's store. vue is an optional peer; nothing else in
 * agentwire imports it.
 */
export { agentwire, provideAgentwire, useClient, clientKey, type AnyClient, type ClientOrOptions, type Schedule } from './plugin'
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
  type ReadonlyRef,
} from './composables'
