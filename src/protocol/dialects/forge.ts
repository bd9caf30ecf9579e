import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import type { ClientFrame } from '../frames'
import type { EventType, PayloadOf } from '../events'
import { agentStatus, defined, errorFrame, eventOn, firstNum, idOf, isObj, message, num, numbersIn, rec, splitChannel, stamp, text, textCodec, unsupportedCommand, untyped, type Obj } from './shared'
import { hasKey } from '../records'

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
    const endpoint = hasKey(ENDPOINT_OF, family) ? ENDPOINT_OF[family] : undefined
    if (endpoint !== undefined) wanted.add(endpoint)
  }
  return FORGE_ENDPOINTS.filter((e) => wanted.has(e))
}

/** The event types this codec maps to canonical events. */
export const FORGE_EVENTS = [
  'agent_created', 'agent_updated', 'status_changed', 'agent_deleted',
  'task_started', 'task_progress', 'task_completed', 'task_failed',
  'node_added', 'edge_added', 'knowledge_updated',
  'metrics', 'metrics_update', 'system_metrics', 'task_metrics', 'agent_metrics', 'custom_metrics',
  'dashboard_update', 'error', 'ping', 'pong',
] as const

/** Frames that steer the connection rather than carry an event (docs/BACKENDS.md says why each is one). */
export const FORGE_CONTROL_FRAMES = ['connection_established', 'stats', 'ping', 'pong'] as const

/** `metric_type` words as canonical scopes; any other word is the scope as it came. */
const SCOPES: Readonly<Record<string, string>> = { system: 'system', tasks: 'task', task: 'task', agents: 'agent', agent: 'agent', custom: 'custom' }

const numbersOf = (v: unknown) => (isObj(v) ? numbersIn(v) : undefined)

function decodeForge(type: string, value: Obj): DecodeResult {
  // The envelope is `{ type, data, timestamp }`; a backend that sends the fields at the top level is read the same.
  const data: Obj = isObj(value.data) ? value.data : value
  const timestamp = stamp(value.timestamp)
  const agentId = idOf(data.agent_id, data.agentId, data.id)
  const taskId = idOf(data.task_id, data.taskId, data.id)
  const raw = value
  const on = <T extends EventType>(canonical: T, payload: Obj, channel: (p: PayloadOf<T>) => string) => eventOn(type, canonical, payload, channel, raw, 'forge')
  switch (type) {
    case 'agent_created':
    case 'agent_updated':
      return on(type === 'agent_created' ? 'agent.created' : 'agent.updated', { agentId, agent: data, timestamp }, (p) => `agent:${p.agentId}`)
    case 'agent_deleted':
      return on('agent.deleted', { agentId, timestamp }, (p) => `agent:${p.agentId}`)
    case 'status_changed': {
      const status = agentStatus(data.new_status ?? data.status ?? data.to)
      if (status === undefined) return on('agent.updated', { agentId, agent: data, timestamp }, (p) => `agent:${p.agentId}`)
      return on('agent.status', { name: agentId, status, load: num(data.load), agent: data, timestamp }, (p) => `agent:${p.name}`)
    }
    case 'task_started':
      return on('task.started', { taskId, name: message(data.name), agent: idOf(data.agent_id, data.agent), description: message(data.description), timestamp }, (p) => `task:${p.taskId}`)
    case 'task_progress': {
      // The seed: "progress update with percentage".
      const progress = firstNum(data.percentage, data.progress, data.percent)
      return on('task.progress', {
        taskId,
        progress: progress === undefined ? undefined : Math.min(100, Math.max(0, progress)),
        message: message(data.message),
        step: text(data.current_step ?? data.step)?.slice(0, 256),
        agent: idOf(data.agent_id, data.agent),
        timestamp,
      }, (p) => `task:${p.taskId}`)
    }
    case 'task_completed': {
      const ms = firstNum(data.duration_ms)
      const s = firstNum(data.duration_seconds, data.duration)
      return on('task.completed', { taskId, result: data.result ?? undefined, durationMs: ms ?? (s === undefined ? undefined : s * 1000), timestamp }, (p) => `task:${p.taskId}`)
    }
    case 'task_failed': {
      const e = data.error
      const detail: Obj = isObj(e) ? e : {}
      const error = defined({
        message: (message(detail.message) ?? message(e) ?? message(data.message) ?? 'task failed').slice(0, 65_536),
        code: text(detail.code ?? data.error_type ?? data.error_code)?.slice(0, 128),
        details: data.traceback ?? (isObj(e) ? e : undefined),
      })
      return on('task.failed', { taskId, error, timestamp }, (p) => `task:${p.taskId}`)
    }
    case 'node_added':
      return on('knowledge.node.added', { nodeId: idOf(data.node_id, data.id), label: message(data.label), kind: text(data.node_type ?? data.type)?.slice(0, 128), properties: rec(data.properties) }, () => 'knowledge')
    case 'edge_added':
      return on('knowledge.edge.added', {
        edgeId: idOf(data.edge_id, data.id),
        source: idOf(data.source_id, data.source, Array.isArray(data.node_ids) ? data.node_ids[0] : undefined),
        target: idOf(data.target_id, data.target, Array.isArray(data.node_ids) ? data.node_ids[1] : undefined),
        relation: text(data.relation)?.slice(0, 256),
        properties: rec(data.properties) ?? (num(data.weight) === undefined ? undefined : { weight: num(data.weight) }),
      }, () => 'knowledge')
    case 'knowledge_updated':
      return on('knowledge.updated', { nodes: firstNum(data.node_count, data.nodes), edges: firstNum(data.edge_count, data.edges), changes: data.changes ?? data.change ?? undefined }, () => 'knowledge')
    case 'metrics':
    case 'metrics_update':
    case 'system_metrics':
    case 'task_metrics':
    case 'agent_metrics':
    case 'custom_metrics': {
      const word = type.endsWith('_metrics') && type !== 'custom_metrics' ? type.slice(0, type.indexOf('_')) : text(data.metric_type) ?? text(data.scope) ?? (type === 'custom_metrics' ? 'custom' : 'system')
      const scope = hasKey(SCOPES, word) ? SCOPES[word]! : word
      const source = isObj(data.metrics) ? data.metrics : isObj(data.values) ? data.values : data
      return on('metrics.snapshot', {
        scope,
        name: text(data.name ?? (isObj(data.metrics) ? data.metrics.name : undefined))?.slice(0, 256),
        values: numbersIn(source, ['metric_type', 'scope', 'name', 'timestamp', 'interval_seconds']),
        timestamp,
      }, () => 'metrics')
    }
    case 'dashboard_update':
      // Members that are objects (counts by status) keep every number under a dotted key.
      return on('dashboard.update', { agents: numbersOf(data.agents), tasks: numbersOf(data.tasks), metrics: numbersOf(data.metrics), timestamp }, () => 'global')
    case 'error':
      return errorFrame('forge', value)
    case 'ping':
      return { ok: true, messages: [{ type: 'ping' }] }
    case 'pong':
      return { ok: true, messages: [{ type: 'pong' }] }
    case 'connection_established':
    case 'stats':
      return { ok: true, messages: [] }
    default:
      return untyped('forge', type, raw, 'global')
  }
}

export const forge: Codec<string> = textCodec('forge', FORGE_CAPABILITIES, decodeForge, (command: ClientFrame): EncodeResult<string> => {
  if (command.type === 'ping') return { ok: true, frame: '{"type":"ping"}' }
  if (command.type === 'pong') return { ok: true, frame: '{"type":"pong"}' }
  return unsupportedCommand('forge', command.type)
})
