import { deepEqual } from '../equal'
import type { DecisionView } from '../state'
import type { EntityReducer } from './entity'

/** `state.decisions`: newest last, bounded; an exact repeat of the newest (one event on two channels) is dropped. */
export const decisions = {
  'routing.decision': (w, p) => {
    const decision: DecisionView = { taskId: p.taskId, agent: p.agent.name, cost: p.agent.cost, latency: p.agent.latency, timestamp: p.timestamp }
    const list = w.state.decisions
    const last = list[list.length - 1]
    if (!last || !deepEqual(last, decision)) w.append('decisions', decision)
  },
} satisfies EntityReducer
