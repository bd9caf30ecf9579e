import type { AgentEvent } from './events'
import type { AgentwireState } from './state'

const empty = <T>(): Record<string, T> => Object.create(null) as Record<string, T>

/** The state before any event. */
export function initialState(): AgentwireState {
  return {
    agents: empty(),
    tasks: empty(),
    requests: empty(),
    sessions: empty(),
    chats: empty(),
    collections: empty(),
    knowledge: { nodes: 0, edges: 0 },
    metrics: empty(),
    dashboard: null,
    notifications: [],
    decisions: [],
  }
}

/** Folds one canonical event into the state. Pure; returns `state` itself when nothing changed. */
export function reduce(state: AgentwireState, _event: AgentEvent): AgentwireState {
  return state
}
