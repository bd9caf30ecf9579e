'use client'
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
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
import { useAgentwire, useClient } from './context'

// On the server effects never run; useLayoutEffect would only warn there (React 18).
const useIsoLayoutEffect = typeof window === 'undefined' ? useEffect : useLayoutEffect

/**
 * A slice of the store. The component re-renders only when the slice changes: the store keeps
 * an entity's identity until it changes, and a selector's fresh array or object counts as
 * unchanged while its members are the same (one level deep). Changes reach it at most once per
 * frame (the provider's `schedule`), always as the latest state.
 */
export function useStore<T>(selector: (state: AgentwireState) => T): T {
  const { client, subscribe } = useAgentwire()
  const last = useRef<{ state: AgentwireState; selector: unknown; value: T } | null>(null)
  const read = (): T => {
    const state = client.getSnapshot()
    const prev = last.current
    if (prev && prev.state === state && prev.selector === selector) return prev.value
    const next = selector(state)
    const value = prev && shallowEqual(prev.value, next) ? prev.value : next
    last.current = { state, selector, value }
    return value
  }
  return useSyncExternalStore(subscribe, read, read)
}

/**
 * Holds a subscription to `channel` while mounted (none for `null`), through the client's
 * ref-counted `subscribe`: many components and StrictMode's remount share one wire
 * subscription. Releasing waits a microtask so an immediate remount never unsubscribes.
 */
export function useChannel(channel: string | null | undefined): SubscriptionStatus {
  const client = useClient()
  const [status, setStatus] = useState<SubscriptionStatus>('unsubscribed')
  useEffect(() => {
    if (!channel) return
    const sub = client.subscribe(channel)
    let live = true
    const sync = () => {
      if (live) setStatus(sub.status)
    }
    sync()
    sub.ready.then(sync, sync)
    const off = client.on('state', sync)
    return () => {
      live = false
      off()
      queueMicrotask(() => sub.unsubscribe())
    }
  }, [client, channel])
  return channel ? status : 'unsubscribed'
}

/** The connection's state: `idle`, `connecting`, `open`, `reconnecting`, `offline`, `unauthorized` or `closed`. */
export function useConnectionState(): ConnectionStatus {
  const client = useClient()
  const subscribe = useCallback((listener: () => void) => client.on('state', listener), [client])
  return useSyncExternalStore(subscribe, () => client.state, () => client.state)
}

function useEntity<T>(family: ChannelFamily, id: string | null | undefined, pick: (s: AgentwireState) => Readonly<Record<string, T>>): T | undefined {
  useChannel(id ? `${family}:${id}` : null)
  return useStore((s) => (id ? pick(s)[id] : undefined))
}

/** One agent (status, load, last decision), following `agent:{name}`; re-renders only when that agent changes. */
export function useAgentStatus(name: string | null | undefined): AgentView | undefined {
  return useEntity('agent', name, (s) => s.agents)
}

/** Every agent (following `agent:*`), or what `selector` picks from them. */
export function useAgents(): AgentwireState['agents']
export function useAgents<T>(selector: (agents: AgentwireState['agents']) => T): T
export function useAgents<T>(selector?: (agents: AgentwireState['agents']) => T): T | AgentwireState['agents'] {
  useChannel('agent:*')
  return useStore((s) => (selector ? selector(s.agents) : s.agents))
}

/** One task and its progress, following `task:{id}`. */
export function useTask(id: string | null | undefined): TaskView | undefined {
  return useEntity('task', id, (s) => s.tasks)
}

/** One session, following `session:{id}`. */
export function useSession(id: string | null | undefined): SessionView | undefined {
  return useEntity('session', id, (s) => s.sessions)
}

export interface RequestHandle {
  /** The request's steps, questions and outcome; `undefined` until its first event or snapshot. */
  readonly state: RequestView | undefined
  cancel(reason?: string): Promise<void>
  /** Answers one of the request's questions. */
  feedback(questionId: string, answer: unknown): Promise<void>
}

/** One request, following `request:{id}`, with the commands that steer it. */
export function useRequest(id: string): RequestHandle {
  const client = useClient()
  const state = useEntity('request', id, (s) => s.requests)
  return useMemo(
    () => ({ state, cancel: (reason?: string) => client.cancel(id, reason), feedback: (q: string, a: unknown) => client.feedback(id, q, a) }),
    [client, id, state],
  )
}

const NO_MESSAGES: readonly MessageView[] = Object.freeze([])

/**
 * A request's transcript, following `request:{id}`: its messages with their text so far and
 * its tool calls with their arguments and results, in the order they started. Re-renders only
 * when the transcript changes (not on the request's other fields).
 */
export function useMessages(requestId: string | null | undefined): readonly MessageView[] {
  useChannel(requestId ? `request:${requestId}` : null)
  return useStore((s) => (requestId ? s.requests[requestId]?.messages : undefined) ?? NO_MESSAGES)
}

type Events = Registered['events']
type Commands = Registered['commands']
/** The registered reducers' states by name (`Register`). */
type States = ReducedStates<Events>

/**
 * Calls `handler` for each event of `type`: a built-in event type, one of the application's
 * (typed through `Register`), or `state`, `error`, `resync`, `event`. Always the handler of
 * the latest render, without resubscribing.
 */
export function useEvent<T extends KnownEventType<Events>>(type: T, handler: EventHandler<T, Events>): void
export function useEvent<K extends keyof ClientEvents<Events>>(type: K, handler: ClientEvents<Events>[K]): void
export function useEvent(type: string, handler: (...args: never[]) => void): void {
  const client = useClient()
  const latest = useRef(handler)
  useIsoLayoutEffect(() => {
    latest.current = handler
  })
  useEffect(() => {
    const on = client.on as (type: string, fn: (...args: unknown[]) => void) => () => void
    return on(type, (...args) => (latest.current as (...a: unknown[]) => void)(...args))
  }, [client, type])
}

/**
 * The state of the reducer `name` (`defineEvents(…).reducer`) on `channel`, following that
 * channel (as `useChannel`; a concrete channel, not a pattern), or what `selector` picks from
 * it. Re-renders only when that value changes (one level deep, as `useStore`). `undefined`
 * while `channel` is `null` or `undefined`.
 */
export function useReduced<N extends keyof States & string>(name: N, channel: string): States[N]
export function useReduced<N extends keyof States & string, T>(name: N, channel: string, selector: (state: States[N]) => T): T
export function useReduced<N extends keyof States & string>(name: N, channel: string | null | undefined): States[N] | undefined
export function useReduced<N extends keyof States & string, T>(name: N, channel: string | null | undefined, selector: (state: States[N]) => T): T | undefined
export function useReduced(name: string, channel: string | null | undefined, selector?: (state: unknown) => unknown): unknown {
  const { client, subscribe } = useAgentwire()
  useChannel(channel)
  const last = useRef<{ value: unknown } | null>(null)
  const read = (): unknown => {
    const state = channel ? (client.reduced as (name: string, channel: string) => unknown)(name, channel) : undefined
    const next = selector && channel ? selector(state) : state
    const prev = last.current
    if (prev && shallowEqual(prev.value, next)) return prev.value
    last.current = { value: next }
    return next
  }
  return useSyncExternalStore(subscribe, read, read)
}

/**
 * One of the application's commands (`Register`'s `commands`) as a function that sends it:
 * `const pause = useCommand('pause'); pause({ agent: 'planner' })`. The same function across
 * renders for the same client and name.
 */
export function useCommand<N extends CommandName<Commands>>(name: N): (payload: CommandPayload<Commands, N>, options?: CommandOptions) => Promise<CommandResult<Commands, N>> {
  const client = useClient()
  return useCallback((payload: CommandPayload<Commands, N>, options?: CommandOptions) => client.command(name, payload, options), [client, name])
}
