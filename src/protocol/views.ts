import * as z from 'zod/mini'
import { AgentStatusValue, MetricsScope, NotificationLevel, StepStatusValue } from './events'
import { MessageViewSchema } from './messages'

/**
 * The zod schemas of a state snapshot's views, the source of truth for what a `state` frame's
 * `state` may hold. `parseState` (./snapshot) reads snapshots with the specs generated from
 * them (`npm run gen`), so a client bundle carries no zod.
 *
 * Records inside a view (`details`, `context`, `metadata`, metric values) are validated with
 * the same `z.record` the event schemas use, which drops a `__proto__` key there, just as it
 * was dropped when the event that carried the record was decoded.
 */

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

/** The view schema of each keyed collection of a snapshot, by collection. */
export const StateViewSchemas = {
  agents: AgentViewSchema,
  tasks: TaskViewSchema,
  requests: RequestViewSchema,
  sessions: SessionViewSchema,
  chats: ChatViewSchema,
  collections: CollectionViewSchema,
  metrics: MetricsViewSchema,
} as const

/** Everything but the keyed collections; a part that is missing is taken as empty. */
export const StateRestSchema = z.object({
  knowledge: z.optional(KnowledgeViewSchema),
  dashboard: z.optional(z.nullable(DashboardViewSchema)),
  notifications: z.optional(z.array(NotificationViewSchema)),
  decisions: z.optional(z.array(DecisionViewSchema)),
})
