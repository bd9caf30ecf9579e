import * as z from 'zod/mini'
import { id, text } from './fields'
import { messagePayloads } from './messages'

/**
 * The canonical domain events: every message of the five seed backends, under one naming
 * convention: `<entity>[.<part>].<change>` in lower case, e.g. `agent.status`,
 * `chat.message.created`, `request.completed`. Each event is `{ type, payload }`; payload
 * fields keep the names and types the seeds use (camelCase), and what a seed leaves open is
 * typed as docs/PROTOCOL.md says.
 */

const timestamp = z.union([z.string().check(z.maxLength(64)), z.number()])
const record = z.record(z.string(), z.unknown())
const finite = z.number()

/**
 * A word from a known list, or any other word a backend used, as it came. The seeds name
 * a few status words and leave the rest open (webgui and rooms define no status set at all),
 * so a canonical status is the known union widened with the string: editors still complete
 * the known words, and a word nobody listed reaches the store and the views instead of
 * failing the frame.
 */
export type Open<Known extends string> = Known | (string & {})

// One schema for every open word: a non-empty string of bounded length. The known words are
// documentation (and completion), not a check.
const word = z.string().check(z.minLength(1), z.maxLength(128))
const open = <Known extends string>() => word as unknown as z.ZodMiniType<Open<Known>>

/** The agent statuses the routing seed names. */
export const AGENT_STATUSES = ['available', 'busy', 'offline'] as const
/** One of the routing seed's agent statuses. */
export type KnownAgentStatus = (typeof AGENT_STATUSES)[number]
/** Agent availability: the routing seed's words, or the backend's own. */
export type AgentStatusValue = Open<(typeof AGENT_STATUSES)[number]>
export const AgentStatusValue = open<(typeof AGENT_STATUSES)[number]>()

/** The step statuses the progress seed names. */
export const STEP_STATUSES = ['running', 'completed', 'failed'] as const
export type StepStatusValue = Open<(typeof STEP_STATUSES)[number]>
export const StepStatusValue = open<(typeof STEP_STATUSES)[number]>()

/** The notification levels the rooms seed names. */
export const NOTIFICATION_LEVELS = ['info', 'warning', 'error', 'success'] as const
export type NotificationLevel = Open<(typeof NOTIFICATION_LEVELS)[number]>
export const NotificationLevel = open<(typeof NOTIFICATION_LEVELS)[number]>()

/** The metrics scopes the forge seed names. */
export const METRICS_SCOPES = ['system', 'task', 'agent', 'custom'] as const
export type MetricsScope = Open<(typeof METRICS_SCOPES)[number]>
export const MetricsScope = open<(typeof METRICS_SCOPES)[number]>()

const presence = z.object({ sessionId: id, userId: id, name: z.optional(text), timestamp: z.optional(timestamp) })

/** Who did it and when, shared by the CRUD events of the rooms seed. */
const actor = { userId: z.optional(id), timestamp: z.optional(timestamp) }

// Each event's payload, by type; `eventSchemas` below wraps each in `{ type, payload }`, so a
// type name is written once (in a browser bundle, once instead of twice).
const payloads = {
  // routing seed
  'routing.decision': z.object({
    taskId: id,
    agent: z.object({
      name: id,
      // The seed shows all three; backends built from it leave them out or null.
      strengths: z.optional(z.array(z.string().check(z.maxLength(256))).check(z.maxLength(1024))),
      cost: z.optional(finite),
      latency: z.optional(finite),
    }),
    timestamp: z.optional(finite),
  }),
  'agent.status': z.object({
    name: id,
    status: AgentStatusValue,
    load: z.optional(finite),
    agent: z.optional(record),
    ...actor,
  }),
  // webgui seed
  'session.status': z.object({
    sessionId: id,
    status: z.string().check(z.minLength(1), z.maxLength(128)),
    progress: z.optional(finite),
    message: z.optional(text),
    timestamp: z.optional(timestamp),
  }),
  // webgui seed: multi-user collaboration, a user joining or leaving a session (one shape)
  'session.user.joined': presence,
  'session.user.left': presence,
  // rooms seed: agents, chats, collections, system notifications
  'agent.created': z.object({ agentId: id, agent: record, ...actor }),
  'agent.updated': z.object({ agentId: id, agent: record, ...actor }),
  'agent.deleted': z.object({ agentId: id, ...actor }),
  'chat.created': z.object({ chatId: id, chat: record, ...actor }),
  'chat.updated': z.object({ chatId: id, chat: record, ...actor }),
  'chat.deleted': z.object({ chatId: id, ...actor }),
  'chat.message.created': z.object({ chatId: id, messageId: id, ...actor }),
  'chat.participant.joined': z.object({ chatId: id, participantId: id, ...actor }),
  'chat.participant.left': z.object({ chatId: id, participantId: id, ...actor }),
  'collection.created': z.object({ collectionId: id, metadata: record, ...actor }),
  'collection.updated': z.object({ collectionId: id, metadata: record, ...actor }),
  'collection.deleted': z.object({ collectionId: id, ...actor }),
  'system.notification': z.object({
    level: NotificationLevel,
    message: text,
    title: z.optional(text),
    details: z.optional(z.unknown()),
    sessionId: z.optional(id),
    ...actor,
  }),
  // progress seed: one request's lifecycle
  'request.started': z.object({ requestId: id, query: text, context: z.optional(record), ...actor }),
  'step.progress': z.object({
    requestId: id,
    agent: id,
    step: finite,
    status: StepStatusValue,
    stepId: z.optional(id),
    stepOrder: z.optional(finite),
    tool: z.optional(z.string().check(z.maxLength(256))),
    result: z.optional(z.unknown()),
    data: z.optional(record),
  }),
  'agent.completed': z.object({ requestId: id, agent: id, data: z.optional(record) }),
  'request.question': z.object({
    requestId: id,
    questionId: id,
    question: text,
    options: z.optional(z.array(z.string().check(z.maxLength(1024))).check(z.maxLength(64))),
    agent: z.optional(id),
  }),
  'request.feedback': z.object({ requestId: id, questionId: id, answer: z.unknown(), ...actor }),
  'request.error': z.object({ requestId: z.optional(id), agent: z.optional(id), message: text, step: z.optional(finite) }),
  'request.completed': z.object({ requestId: id, result: z.unknown() }),
  'request.cancelled': z.object({ requestId: id, reason: z.optional(text), ...actor }),
  // forge seed: tasks, knowledge graph, metrics, dashboard
  'task.started': z.object({
    taskId: id,
    name: z.optional(text),
    agent: z.optional(id),
    description: z.optional(text),
    timestamp: z.optional(timestamp),
  }),
  'task.progress': z.object({
    taskId: id,
    progress: z.number().check(z.gte(0), z.lte(100)),
    message: z.optional(text),
    step: z.optional(z.string().check(z.maxLength(256))),
    agent: z.optional(id),
    timestamp: z.optional(timestamp),
  }),
  'task.completed': z.object({
    taskId: id,
    result: z.optional(z.unknown()),
    durationMs: z.optional(finite),
    timestamp: z.optional(timestamp),
  }),
  'task.failed': z.object({
    taskId: id,
    error: z.object({ message: text, code: z.optional(z.string().check(z.maxLength(128))), details: z.optional(z.unknown()) }),
    timestamp: z.optional(timestamp),
  }),
  'knowledge.node.added': z.object({ nodeId: id, label: z.optional(text), kind: z.optional(z.string().check(z.maxLength(128))), properties: z.optional(record) }),
  'knowledge.edge.added': z.object({
    edgeId: z.optional(id),
    source: id,
    target: id,
    relation: z.optional(z.string().check(z.maxLength(256))),
    properties: z.optional(record),
  }),
  'knowledge.updated': z.object({ nodes: z.optional(finite), edges: z.optional(finite), changes: z.optional(z.unknown()) }),
  'metrics.snapshot': z.object({
    scope: MetricsScope,
    name: z.optional(z.string().check(z.maxLength(256))),
    values: z.record(z.string().check(z.maxLength(256)), finite),
    timestamp: z.optional(timestamp),
  }),
  'dashboard.update': z.object({
    agents: z.optional(z.record(z.string(), finite)),
    tasks: z.optional(z.record(z.string(), finite)),
    metrics: z.optional(z.record(z.string(), finite)),
    timestamp: z.optional(timestamp),
  }),
  // AG-UI: streamed messages and tool calls, and the agent's shared state, on `request:{id}`
  ...messagePayloads,
}
type Payloads = typeof payloads

export type EventSchemas = { readonly [T in keyof Payloads]: z.ZodMiniObject<{ type: z.ZodMiniLiteral<T>; payload: Payloads[T] }, z.core.$strip> }

/** The schema of every canonical event, by type: `{ type, payload }`. */
export const eventSchemas = Object.fromEntries(Object.entries(payloads).map(([type, payload]) => [type, z.object({ type: z.literal(type), payload })])) as unknown as EventSchemas
/** Every canonical event type, e.g. `'agent.status'`. */
export type EventType = keyof EventSchemas
/** The payload of one event type. */
export type PayloadOf<T extends EventType> = z.infer<Payloads[T]>
/**
 * The canonical event of one type: `{ type, payload }` (what `z.infer` of its schema gives,
 * spelled so generic code can index it). An event a seed codec mapped from a foreign frame
 * also carries `raw`: that frame's body as it came, with every field the mapping did not
 * use. Native frames never carry it (unknown fields are stripped at home).
 */
export type EventOf<T extends EventType> = { type: T; payload: PayloadOf<T>; raw?: unknown }

/**
 * A foreign frame no canonical event fits (a type the codec does not know, or a known type
 * without the id its channel needs), delivered to `client.on('event')` as it came rather
 * than dropped. `type` is `{codec}:{frame type}` (`webgui:user_typing`): canonical types have
 * no colon, so narrowing on `event.type === 'agent.status'` still excludes these.
 */
export interface UntypedEvent {
  readonly type: `${string}:${string}`
  /** The frame's body as it came. */
  readonly payload: unknown
  readonly untyped: true
}
/** Any canonical event. */
export type AgentEvent = { [T in EventType]: EventOf<T> }[EventType]

/** One zod union of every canonical event, discriminated on `type`. */
export const AgentEventSchema = z.discriminatedUnion(
  'type',
  Object.values(eventSchemas) as unknown as [EventSchemas[EventType], ...EventSchemas[EventType][]],
)
