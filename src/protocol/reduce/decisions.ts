import { deepEqual } from '../equal'
import type { DecisionView } from '../state'
import type { Mutable } from '../writer'
import type { EntityReducer } from './entity'

/** `state.decisions`: newest last, bounded; an exact repeat of the newest (one event on two channels) is dropped. */
export const decisions = {
  'routing.decision': (w, p) => {
    const decision: Mutable<DecisionView> = { taskId: p.taskId, agent: p.agent.name }
    // Absent rather than undefined: a state survives a JSON round trip unchanged.
    if (p.agent.cost !== undefined) decision.cost = p.agent.cost
    if (p.agent.latency !== undefined) decision.latency = p.agent.latency
    if (p.timestamp !== undefined) decision.timestamp = p.timestamp
    const list = w.state.decisions
    const last = list[list.length - 1]
    if (!last || !deepEqual(last, decision)) w.append('decisions', decision)
  },
} satisfies EntityReducer
