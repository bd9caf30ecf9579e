import * as z from 'zod/mini'
import { ErrorCode } from './codes'
import { ProtocolError } from './errors'
import { AgentStatusValue, MetricsScope, NotificationLevel, StepStatusValue } from './events'
import { MessageViewSchema } from './messages'
import { emptyRecord, hasKey, type MutableRecord } from './records'
import { initialState } from './reduce'
import { MAX_DECISIONS, MAX_NOTIFICATIONS, type AgentwireState } from './state'
import { formatPath, issueError, printable } from './validate'

export { replaceChannel } from './merge'

/**
 * Snapshots: a state that crossed the wire (a `state` frame, built on the server by
 * `reduce`). How a snapshot for one channel replaces that channel's part of the client's
 * merged store is `./merge`.
 *
 * On the wire, prefer {@link serializeState}: `JSON.stringify(state)` works (null-prototype
 * records serialize like plain objects), but a safe JSON reader drops keys named
 * `__proto__`, `constructor` and `prototype`, and an agent or task may have such an id. The
 * serialized form carries each keyed collection as `[key, view]` pairs, which no reader
 * strips. {@link parseState} reads both forms.
 *
 * Records inside a view (`details`, `context`, `metadata`, metric values) are validated with
 * the same `z.record` the event schemas use, which drops a `__proto__` key there, just as it
 * was dropped when the event that carried the record was decoded.
 */

// ── view schemas ───────────────────────────────────────────────────────────────────────

const str = z.string()
const num = z.number()
const record = z.record(z.string(), z.unknown())
const numbers = z.record(z.string(), z.number())
const timestamp = z.union([z.string(), z.number()])

const AgentViewSchema = z.object({
  name: str,
  status: z.optional(AgentStatusValue),
  load: z.optional(num),
  strengths: z.optional(z.array(str)),
  cost: z.optional(num),
  latency: z.optional(num),
  lastDecision: z.optional(z.object({ taskId: str, timestamp: z.optional(num) })),
  details: z.optional(record),
})

const TaskViewSchema = z.object({
  id: str,
  status: z.enum(['routed', 'running', 'completed', 'failed']),
  progress: z.number().check(z.gte(0), z.lte(100)),
  agent: z.optional(str),
  name: z.optional(str),
  description: z.optional(str),
  message: z.optional(str),
  step: z.optional(str),
  result: z.optional(z.unknown()),
  error: z.optional(z.object({ message: str, code: z.optional(str), details: z.optional(z.unknown()) })),
  durationMs: z.optional(num),
})

const StepViewSchema = z.object({
  step: num,
  agent: str,
  status: StepStatusValue,
  stepId: z.optional(str),
  stepOrder: z.optional(num),
  tool: z.optional(str),
  result: z.optional(z.unknown()),
  data: z.optional(record),
})

const QuestionViewSchema = z.object({
  questionId: str,
  question: str,
  options: z.optional(z.array(str)),
  agent: z.optional(str),
  answered: z.boolean(),
  answer: z.optional(z.unknown()),
})

const RequestViewSchema = z.object({
  id: str,
  status: str,
  query: z.optional(str),
  context: z.optional(record),
  steps: z.array(StepViewSchema),
  questions: z.array(QuestionViewSchema),
  completedAgents: z.array(str),
  result: z.optional(z.unknown()),
  error: z.optional(z.object({ message: str, agent: z.optional(str), step: z.optional(num) })),
  cancelReason: z.optional(str),
  messages: z.optional(z.array(MessageViewSchema)),
  state: z.optional(z.unknown()),
})

const SessionViewSchema = z.object({
  id: str,
  status: str,
  progress: z.optional(num),
  message: z.optional(str),
  timestamp: z.optional(timestamp),
  users: z.optional(z.array(str)),
})

const ChatViewSchema = z.object({
  id: str,
  chat: z.optional(record),
  messages: z.int().check(z.gte(0)),
  lastMessageId: z.optional(str),
  participants: z.array(str),
})

const CollectionViewSchema = z.object({ id: str, metadata: record })

const MetricsViewSchema = z.object({
  scope: MetricsScope,
  name: z.optional(str),
  values: numbers,
  timestamp: z.optional(timestamp),
})

// Any finite count: `knowledge.updated` may carry any number, and what reduce builds must parse.
const KnowledgeViewSchema = z.object({ nodes: num, edges: num })

const DashboardViewSchema = z.object({
  agents: z.optional(numbers),
  tasks: z.optional(numbers),
  metrics: z.optional(numbers),
  timestamp: z.optional(timestamp),
})

const NotificationViewSchema = z.object({
  level: NotificationLevel,
  message: str,
  title: z.optional(str),
  details: z.optional(z.unknown()),
  sessionId: z.optional(str),
  userId: z.optional(str),
  timestamp: z.optional(timestamp),
})

const DecisionViewSchema = z.object({ taskId: str, agent: str, cost: z.optional(num), latency: z.optional(num), timestamp: z.optional(num) })

/** The keyed collections, their view schemas, and whether a view's `id` must equal its key. */
const KEYED = {
  agents: { schema: AgentViewSchema, idKey: false },
  tasks: { schema: TaskViewSchema, idKey: true },
  requests: { schema: RequestViewSchema, idKey: true },
  sessions: { schema: SessionViewSchema, idKey: true },
  chats: { schema: ChatViewSchema, idKey: true },
  collections: { schema: CollectionViewSchema, idKey: true },
  metrics: { schema: MetricsViewSchema, idKey: false },
} as const
type KeyedName = keyof typeof KEYED
const KEYED_NAMES = Object.keys(KEYED) as KeyedName[]

/** Everything but the keyed collections; a part that is missing is taken as empty. */
const RestSchema = z.object({
  knowledge: z.optional(KnowledgeViewSchema),
  dashboard: z.optional(z.nullable(DashboardViewSchema)),
  notifications: z.optional(z.array(NotificationViewSchema)),
  decisions: z.optional(z.array(DecisionViewSchema)),
})

// ── parse and serialize ────────────────────────────────────────────────────────────────

export type ParseStateResult = { ok: true; state: AgentwireState } | { ok: false; error: ProtocolError }

/** A state as {@link serializeState} writes it: keyed collections as `[key, view]` pairs. */
export type SerializedState = {
  [K in keyof AgentwireState]: AgentwireState[K] extends Readonly<Record<string, infer V>>
    ? K extends KeyedName
      ? Array<[string, V]>
      : AgentwireState[K]
    : AgentwireState[K]
}

/**
 * A JSON-ready form of `state` for a `state` frame. Keyed collections become `[key, view]`
 * pairs so ids like `__proto__` survive readers that drop such keys; everything else is as
 * it is. `parseState` turns it back.
 */
export function serializeState(state: AgentwireState): SerializedState {
  const out: Record<string, unknown> = {
    knowledge: state.knowledge,
    dashboard: state.dashboard,
    notifications: state.notifications,
    decisions: state.decisions,
  }
  for (const name of KEYED_NAMES) {
    const collection = state[name] as Readonly<Record<string, unknown>>
    out[name] = Object.keys(collection).map((key) => [key, collection[key]])
  }
  return out as SerializedState
}

/**
 * Validates a snapshot from the wire and rebuilds it as `reduce` builds state: keyed
 * collections as null-prototype records, unknown fields stripped, lists cut to their bounds
 * (newest kept). Each keyed collection may be an object or `[key, view]` pairs; a missing
 * part is empty. Never throws: a bad shape is a `ProtocolError` whose message and `path`
 * say where, e.g. `"state" expects tasks.t1.status to be one of routed, running, …`.
 */
export function parseState(value: unknown): ParseStateResult {
  try {
    return parse(value)
  } catch (cause) {
    // A hostile value (a throwing getter, a proxy) must not escape the wire boundary.
    return { ok: false, error: new ProtocolError(ErrorCode.BadRequest, '"state" could not be read', { cause }) }
  }
}

function parse(value: unknown): ParseStateResult {
  if (!isObject(value)) return fail(`"state" expects an object, got ${kind(value)}`, [])
  const rest = RestSchema.safeParse(value, { reportInput: true })
  if (!rest.success) return { ok: false, error: issueError('state', rest.error.issues) }
  const keyed = emptyRecord<MutableRecord<unknown>>()
  for (const name of KEYED_NAMES) {
    const parsed = parseKeyed(name, hasKey(value, name) ? value[name] : undefined)
    if (!parsed.ok) return parsed
    keyed[name] = parsed.record
  }
  const k = keyed as Record<KeyedName, MutableRecord<never>>
  // Built in the order `initialState` uses, so a re-serialized snapshot reads the same.
  const state: AgentwireState = {
    agents: k.agents,
    tasks: k.tasks,
    requests: k.requests,
    sessions: k.sessions,
    chats: k.chats,
    collections: k.collections,
    knowledge: rest.data.knowledge ?? initialState().knowledge,
    metrics: k.metrics,
    dashboard: rest.data.dashboard ?? null,
    notifications: newest(rest.data.notifications ?? [], MAX_NOTIFICATIONS),
    decisions: newest(rest.data.decisions ?? [], MAX_DECISIONS),
  }
  return { ok: true, state }
}

type KeyedResult = { ok: true; record: MutableRecord<unknown> } | { ok: false; error: ProtocolError }

function parseKeyed(name: KeyedName, raw: unknown): KeyedResult {
  const out = emptyRecord<unknown>()
  if (raw === undefined) return { ok: true, record: out }
  let entries: Array<readonly [unknown, unknown]>
  if (Array.isArray(raw)) {
    entries = []
    for (let i = 0; i < raw.length; i++) {
      const pair: unknown = raw[i]
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
        return fail(`"state" expects ${name}[${i}] to be a [key, view] pair, got ${kind(pair)}`, [name, i])
      }
      entries.push([pair[0], pair[1]])
    }
  } else if (isObject(raw)) {
    // Own keys only, `__proto__` included: JSON.parse makes it an ordinary own property.
    entries = Object.keys(raw).map((key) => [key, raw[key]] as const)
  } else {
    return fail(`"state" expects ${name} to be an object or [key, view] pairs, got ${kind(raw)}`, [name])
  }
  const { schema, idKey } = KEYED[name]
  for (const [key, view] of entries) {
    const k = key as string
    if (hasKey(out, k)) return fail(`"state" expects ${formatPath([name, k])} only once`, [name, k])
    const parsed = schema.safeParse(view, { reportInput: true })
    if (!parsed.success) return { ok: false, error: issueError('state', parsed.error.issues, [name, k]) }
    const data = parsed.data as { id?: unknown }
    if (idKey && data.id !== k) {
      return fail(`"state" expects ${formatPath([name, k, 'id'])} to be ${JSON.stringify(printable(k))}, got ${JSON.stringify(printable(String(data.id)))}`, [name, k, 'id'])
    }
    // Assignment on a null-prototype record: `__proto__` becomes an own key, not a prototype.
    out[k] = parsed.data
  }
  return { ok: true, record: out }
}

function newest<T>(list: T[], max: number): T[] {
  return list.length > max ? list.slice(list.length - max) : list
}

function fail(message: string, path: ReadonlyArray<string | number>): { ok: false; error: ProtocolError } {
  return { ok: false, error: new ProtocolError(ErrorCode.BadRequest, message, { path }) }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function kind(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}
