import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import type { ClientFrame } from '../frames'
import { eventOn, isObj, normaliseAgentStatus, splitChannel, textCodec, unknown, unsupportedCommand, type Obj } from './shared'

/**
 * The forge backend (seed `forge`): FastAPI endpoints `/ws/agents`, `/ws/tasks`,
 * `/ws/knowledge`, `/ws/metrics`, `/ws/dashboard`, each a stream of JSON text frames
 * `{ type, data, timestamp }` (the envelope a FastAPI `send_json` of an event would have; the
 * seed names the events, not the envelope). Fields inside `data` are snake_case.
 * Heartbeat: `{"type":"ping"}` answered by `{"type":"pong"}`, either way. Which endpoints to
 * open is the subscription: see {@link forgeEndpointsFor}.
 */

export const FORGE_CAPABILITIES: Capabilities = Object.freeze({
  handshake: false,
  serverSubscribe: false,
  resume: false,
  positions: false,
  rejoin: false,
  commands: false,
  heartbeat: 'text',
})

export const FORGE_ENDPOINTS = ['/ws/agents', '/ws/tasks', '/ws/knowledge', '/ws/metrics', '/ws/dashboard'] as const
export type ForgeEndpoint = (typeof FORGE_ENDPOINTS)[number]

const ENDPOINT_OF: Readonly<Record<string, ForgeEndpoint>> = {
  agent: '/ws/agents',
  task: '/ws/tasks',
  knowledge: '/ws/knowledge',
  metrics: '/ws/metrics',
  global: '/ws/dashboard',
}

/** The endpoints a set of subscriptions needs, in the order of {@link FORGE_ENDPOINTS}; `*` needs all five. */
export function forgeEndpointsFor(channels: readonly string[]): ForgeEndpoint[] {
  const wanted = new Set<ForgeEndpoint>()
  for (const channel of channels) {
    if (channel === '*') return [...FORGE_ENDPOINTS]
    const [family] = splitChannel(channel)
    const endpoint = Object.prototype.hasOwnProperty.call(ENDPOINT_OF, family) ? ENDPOINT_OF[family] : undefined
    if (endpoint !== undefined) wanted.add(endpoint)
  }
  return FORGE_ENDPOINTS.filter((e) => wanted.has(e))
}

/** The event types this codec decodes. */
export const FORGE_EVENTS = [
  'agent_created', 'agent_updated', 'status_changed', 'agent_deleted',
  'task_started', 'task_progress', 'task_completed', 'task_failed',
  'node_added', 'edge_added', 'knowledge_updated',
  'metrics', 'system_metrics', 'task_metrics', 'agent_metrics', 'custom_metrics',
  'dashboard_update', 'ping', 'pong',
] as const

const str = (v: unknown) => (typeof v === 'string' ? v : undefined)

function decodeForge(type: string, value: Obj): DecodeResult {
  const data: Obj = isObj(value.data) ? value.data : {}
  const timestamp = value.timestamp
  const agentId = data.agent_id ?? data.id
  const taskId = data.task_id ?? data.id
  switch (type) {
    case 'agent_created':
    case 'agent_updated':
      return eventOn(type, type === 'agent_created' ? 'agent.created' : 'agent.updated', { agentId, agent: data, timestamp }, (p) => `agent:${p.agentId}`)
    case 'agent_deleted':
      return eventOn(type, 'agent.deleted', { agentId, timestamp }, (p) => `agent:${p.agentId}`)
    case 'status_changed': {
      const status = normaliseAgentStatus(type, 'data.status', data.status ?? data.new_status)
      if (!status.ok) return status
      return eventOn(type, 'agent.status', { name: agentId, status: status.status, load: data.load, agent: data, timestamp }, (p) => `agent:${p.name}`)
    }
    case 'task_started':
      return eventOn(type, 'task.started', { taskId, name: data.name, agent: data.agent_id, description: data.description, timestamp }, (p) => `task:${p.taskId}`)
    case 'task_progress':
      return eventOn(type, 'task.progress', { taskId, progress: data.progress, message: data.message, step: data.step, agent: data.agent_id, timestamp }, (p) => `task:${p.taskId}`)
    case 'task_completed': {
      const durationMs = typeof data.duration_ms === 'number' ? data.duration_ms : typeof data.duration === 'number' ? data.duration * 1000 : undefined
      return eventOn(type, 'task.completed', { taskId, result: data.result, durationMs, timestamp }, (p) => `task:${p.taskId}`)
    }
    case 'task_failed': {
      const error = isObj(data.error) ? data.error : { message: data.error ?? data.message, code: data.error_code }
      return eventOn(type, 'task.failed', { taskId, error, timestamp }, (p) => `task:${p.taskId}`)
    }
    case 'node_added':
      return eventOn(type, 'knowledge.node.added', { nodeId: data.node_id ?? data.id, label: data.label, kind: str(data.node_type) ?? str(data.type), properties: data.properties }, () => 'knowledge')
    case 'edge_added':
      return eventOn(type, 'knowledge.edge.added', { edgeId: data.edge_id ?? data.id, source: data.source, target: data.target, relation: data.relation, properties: data.properties }, () => 'knowledge')
    case 'knowledge_updated':
      return eventOn(type, 'knowledge.updated', { nodes: data.node_count ?? data.nodes, edges: data.edge_count ?? data.edges, changes: data.changes }, () => 'knowledge')
    case 'metrics':
    case 'system_metrics':
    case 'task_metrics':
    case 'agent_metrics':
    case 'custom_metrics': {
      const scope = type === 'metrics' ? (data.scope ?? 'system') : type.slice(0, type.indexOf('_'))
      return eventOn(type, 'metrics.snapshot', { scope, name: data.name, values: data.values, timestamp }, () => 'metrics')
    }
    case 'dashboard_update':
      return eventOn(type, 'dashboard.update', { agents: data.agents, tasks: data.tasks, metrics: data.metrics, timestamp }, () => 'global')
    case 'ping':
      return { ok: true, messages: [{ type: 'ping' }] }
    case 'pong':
      return { ok: true, messages: [{ type: 'pong' }] }
    default:
      return unknown(type)
  }
}

export const forge: Codec<string> = textCodec('forge', FORGE_CAPABILITIES, decodeForge, (command: ClientFrame): EncodeResult<string> => {
  if (command.type === 'ping') return { ok: true, frame: '{"type":"ping"}' }
  if (command.type === 'pong') return { ok: true, frame: '{"type":"pong"}' }
  return unsupportedCommand('forge', command.type)
})
