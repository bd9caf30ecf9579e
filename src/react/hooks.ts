'use client'
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import { shallowEqual, type ClientEvents, type ConnectionStatus, type EventHandler, type SubscriptionStatus } from 'agentwire'
import type { AgentView, AgentwireState, ChannelFamily, EventType, MessageView, RequestView, SessionView, TaskView } from 'agentwire/protocol'
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

/**
 * Calls `handler` for each event of `type` (a canonical event type, or `state`, `error`,
 * `resync`, `event`). Always the handler of the latest render, without resubscribing.
 */
export function useEvent<T extends EventType>(type: T, handler: EventHandler<T>): void
export function useEvent<K extends keyof ClientEvents>(type: K, handler: ClientEvents[K]): void
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
