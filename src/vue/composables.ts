import { getCurrentScope, onScopeDispose, shallowReadonly, shallowRef, toValue, watch, type MaybeRefOrGetter, type ShallowRef } from 'vue'
import { shallowEqual, type ClientEvents, type CommandOptions, type ConnectionStatus, type EventHandler, type SubscriptionStatus } from 'agentwire'
import type {
  AgentView,
  AgentwireState,
  ChannelFamily,
  CommandName,
  CommandPayload,
  CommandResult,
  KnownEventType,
  MessageView,
  ReducedStates,
  Registered,
  RequestView,
  SessionView,
  TaskView,
} from 'agentwire/protocol'
import { storeOf, useClient } from './plugin'

/** A ref the composable updates and the caller only reads. */
export type ReadonlyRef<T> = Readonly<ShallowRef<T>>
type Id = MaybeRefOrGetter<string | null | undefined>
const ro = <T>(r: ShallowRef<T>) => shallowReadonly(r) as ReadonlyRef<T>

function isDev(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
  if (env) return env.NODE_ENV !== 'production'
  return (import.meta as { env?: { DEV?: boolean } }).env?.DEV === true
}

/** Registers cleanup with the current scope; outside one, warns in development that nothing will release it. */
function onDispose(name: string, fn: () => void): void {
  if (getCurrentScope()) onScopeDispose(fn)
  else if (isDev()) console.warn(`agentwire: ${name}() was called outside setup() or an effectScope, so its subscription is never released.`)
}

// The ref is replaced only when the selection changes (one level deep), so watchers and
// renders see a change only for the entity that changed; at most once per frame (the
// plugin's `schedule`), to the latest state.
function select<T>(name: string, selector: (state: AgentwireState) => T): [ShallowRef<T>, () => void] {
  const client = useClient()
  const out = shallowRef(selector(client.getSnapshot()))
  const update = () => {
    const next = selector(client.getSnapshot())
    if (!shallowEqual(out.value, next)) out.value = next
  }
  onDispose(name, storeOf(client)(update))
  return [out, update]
}

/** A readonly ref over a slice of the store. */
export function useStore<T>(selector: (state: AgentwireState) => T): ReadonlyRef<T> {
  return ro(select('useStore', selector)[0])
}

/**
 * Holds a ref-counted subscription to the channel while the scope lives; a new value moves
 * it, `null` drops it. Returns the subscription's status.
 */
export function useChannel(channel: MaybeRefOrGetter<string | null | undefined>, name = 'useChannel'): ReadonlyRef<SubscriptionStatus> {
  const client = useClient()
  const status = shallowRef<SubscriptionStatus>('unsubscribed')
  const stop = watch(
    () => toValue(channel),
    (ch, _old, onCleanup) => {
      status.value = 'unsubscribed'
      if (!ch) return
      const sub = client.subscribe(ch)
      let live = true
      const sync = () => {
        if (live) status.value = sub.status
      }
      sync()
      sub.ready.then(sync, sync)
      const off = client.on('state', sync)
      onCleanup(() => {
        live = false
        off()
        sub.unsubscribe()
      })
    },
    { immediate: true },
  )
  onDispose(name, stop)
  return ro(status)
}

/** The connection's state. */
export function useConnectionState(): ReadonlyRef<ConnectionStatus> {
  const client = useClient()
  const state = shallowRef(client.state)
  onDispose('useConnectionState', client.on('state', () => (state.value = client.state)))
  return ro(state)
}

function useEntity<T>(family: ChannelFamily, id: Id, pick: (s: AgentwireState) => Readonly<Record<string, T>>, name: string): ReadonlyRef<T | undefined> {
  const key = () => toValue(id) || null
  useChannel(() => {
    const k = key()
    return k && `${family}:${k}`
  }, name)
  const [out, update] = select(name, (s) => {
    const k = key()
    return k ? pick(s)[k] : undefined
  })
  onDispose(name, watch(key, update))
  return ro(out)
}

/** One agent, following `agent:{name}`; the ref changes only when that agent does. */
export function useAgentStatus(name: Id): ReadonlyRef<AgentView | undefined> {
  return useEntity('agent', name, (s) => s.agents, 'useAgentStatus')
}

/** One task and its progress, following `task:{id}`. */
export function useTask(id: Id): ReadonlyRef<TaskView | undefined> {
  return useEntity('task', id, (s) => s.tasks, 'useTask')
}

/** One session, following `session:{id}`. */
export function useSession(id: Id): ReadonlyRef<SessionView | undefined> {
  return useEntity('session', id, (s) => s.sessions, 'useSession')
}

/** Every agent (following `agent:*`), or what `selector` picks from them. */
export function useAgents(): ReadonlyRef<AgentwireState['agents']>
export function useAgents<T>(selector: (agents: AgentwireState['agents']) => T): ReadonlyRef<T>
export function useAgents<T>(selector?: (agents: AgentwireState['agents']) => T): ReadonlyRef<unknown> {
  useChannel('agent:*', 'useAgents')
  return ro(select('useAgents', (s) => (selector ? selector(s.agents) : s.agents))[0])
}

const NO_MESSAGES: readonly MessageView[] = Object.freeze([])

/**
 * A request's transcript, following `request:{id}`: its messages with their text so far and
 * its tool calls with their arguments and results, in the order they started. The ref changes
 * only when the transcript does.
 */
export function useMessages(requestId: Id): ReadonlyRef<readonly MessageView[]> {
  const key = () => toValue(requestId) || null
  useChannel(() => {
    const k = key()
    return k && `request:${k}`
  }, 'useMessages')
  const [out, update] = select('useMessages', (s) => {
    const k = key()
    return (k ? s.requests[k]?.messages : undefined) ?? NO_MESSAGES
  })
  onDispose('useMessages', watch(key, update))
  return ro(out)
}

/** One request, following `request:{id}`, with the commands that steer it (sent to the current id). */
export function useRequest(id: MaybeRefOrGetter<string>) {
  const client = useClient()
  return {
    state: useEntity('request', id, (s) => s.requests, 'useRequest') as ReadonlyRef<RequestView | undefined>,
    cancel: (reason?: string): Promise<void> => client.cancel(toValue(id), reason),
    feedback: (questionId: string, answer: unknown): Promise<void> => client.feedback(toValue(id), questionId, answer),
  }
}

type Events = Registered['events']
type Commands = Registered['commands']
/** The registered reducers' states by name (`Register`). */
type States = ReducedStates<Events>

/**
 * Calls `handler` for each event of `type` until the scope ends: a built-in event type, one of
 * the application's (typed through `Register`), or `state`, `error`, `resync`, `event`.
 */
export function useEvent<T extends KnownEventType<Events>>(type: T, handler: EventHandler<T, Events>): void
export function useEvent<K extends keyof ClientEvents<Events>>(type: K, handler: ClientEvents<Events>[K]): void
export function useEvent(type: string, handler: (...args: never[]) => void): void {
  const on = useClient().on as (type: string, fn: (...args: never[]) => void) => () => void
  onDispose('useEvent', on(type, handler))
}

/**
 * A readonly ref over the state of the reducer `name` (`defineEvents(…).reducer`) on
 * `channel`, following that channel (a concrete one, not a pattern; a new value moves it), or
 * over what `selector` picks from it. The ref changes only when that value does (one level
 * deep). `undefined` while the channel is `null` or `undefined`.
 */
export function useReduced<N extends keyof States & string>(name: N, channel: MaybeRefOrGetter<string>): ReadonlyRef<States[N]>
export function useReduced<N extends keyof States & string, T>(name: N, channel: MaybeRefOrGetter<string>, selector: (state: States[N]) => T): ReadonlyRef<T>
export function useReduced<N extends keyof States & string>(name: N, channel: Id): ReadonlyRef<States[N] | undefined>
export function useReduced<N extends keyof States & string, T>(name: N, channel: Id, selector: (state: States[N]) => T): ReadonlyRef<T | undefined>
export function useReduced(name: string, channel: Id, selector?: (state: unknown) => unknown): ReadonlyRef<unknown> {
  const client = useClient()
  const key = () => toValue(channel) || null
  useChannel(key, 'useReduced')
  const read = (): unknown => {
    const k = key()
    if (!k) return undefined
    const state = (client.reduced as (name: string, channel: string) => unknown)(name, k)
    return selector ? selector(state) : state
  }
  const out = shallowRef(read())
  const update = () => {
    const next = read()
    if (!shallowEqual(out.value, next)) out.value = next
  }
  onDispose('useReduced', storeOf(client)(update))
  onDispose('useReduced', watch(key, update))
  return ro(out)
}

/**
 * One of the application's commands (`Register`'s `commands`) as a function that sends it:
 * `const pause = useCommand('pause'); pause({ agent: 'planner' })`.
 */
export function useCommand<N extends CommandName<Commands>>(name: N): (payload: CommandPayload<Commands, N>, options?: CommandOptions) => Promise<CommandResult<Commands, N>> {
  const client = useClient()
  return (payload, options) => client.command(name, payload, options)
}
