import type { PayloadOf } from '../events'
import { getKey } from '../records'
import type { AgentView } from '../state'
import type { Mutable, StateWriter } from '../writer'
import { upsert, type EntityReducer } from './entity'

/** `state.agents`: keyed by `name` (routing, status) or by `agentId` (CRUD events). */
export const agents = {
  'routing.decision': (w, p) => {
    const name = p.agent.name
    const prev = getKey(w.state.agents, name)
    const seen = prev?.lastDecision
    upsert(w, 'agents', name, prev, newAgent, {
      strengths: p.agent.strengths,
      cost: p.agent.cost,
      latency: p.agent.latency,
      // The stored object when it says the same: spares building one only to compare it.
      lastDecision: seen && seen.taskId === p.taskId && seen.timestamp === p.timestamp ? seen : p.timestamp === undefined ? { taskId: p.taskId } : { taskId: p.taskId, timestamp: p.timestamp },
    })
  },
  'agent.status': (w, p) => upsert(w, 'agents', p.name, getKey(w.state.agents, p.name), newAgent, { status: p.status, load: p.load, details: p.agent }),
  'agent.created': record,
  'agent.updated': record,
  'agent.deleted': (w, p) => w.remove('agents', p.agentId),
} satisfies EntityReducer

/** `agent.created` / `agent.updated` carry the whole record: it replaces `details`, and names the agent when it can. */
function record(w: StateWriter, p: PayloadOf<'agent.created' | 'agent.updated'>): void {
  const prev = getKey(w.state.agents, p.agentId)
  const named = p.agent['name']
  const name = typeof named === 'string' && named !== '' ? named : (prev?.name ?? p.agentId)
  upsert(w, 'agents', p.agentId, prev, newAgent, { name, details: p.agent })
}

function newAgent(name: string): Mutable<AgentView> {
  return { name }
}
