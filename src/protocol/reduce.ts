import { deepEqual } from './equal'
import type { AgentEvent, PayloadOf } from './events'
import { emptyRecord, getKey, withKey, withoutKey } from './records'
import {
  MAX_DECISIONS,
  MAX_NOTIFICATIONS,
  type AgentView,
  type AgentwireState,
  type ChatView,
  type DecisionView,
  type NotificationView,
  type QuestionView,
  type RequestStatus,
  type RequestView,
  type SessionView,
  type StepView,
  type TaskStatus,
  type TaskView,
} from './state'

/**
 * `reduce(state, event)` folds one canonical event into the state a dashboard shows. The
 * client's store and the gateway's snapshots both use it, so they agree by construction.
 *
 * Purity and sharing:
 * - Nothing is mutated. Only the path an event changes is copied: the changed entity, its
 *   collection and the root. Every other entity and collection keeps its object identity.
 * - An event that changes nothing (same status again, a duplicate message id, a late event
 *   for a finished request) returns `state` itself. Values are compared structurally, so a
 *   re-sent record equal to the stored one keeps the stored object.
 * - Keyed collections are null-prototype records written only through `./records`, so ids
 *   such as `__proto__` or `constructor` are ordinary keys.
 * - Payload values (records, results, arrays) are kept by reference: events are immutable
 *   once decoded. No property is ever set to `undefined`, so a state survives a JSON round
 *   trip unchanged.
 * - Unknown event types (a newer server) leave the state as it is.
 *
 * The rules where the seeds leave room:
 * - Agents are keyed by `name` (routing, status) or by `agentId` (CRUD events).
 *   `agent.created` / `agent.updated` carry the whole record (rooms seed), so they replace
 *   `details`, and take `name` from the record when it has a string one; an update of an
 *   unknown agent creates it. `agent.status` sets `details` too when it carries the record.
 * - `routing.decision` creates the task as `routed` if it is new; for a task already routed
 *   or running it only changes `agent` (a re-route does not move a running task back);
 *   a finished task is left alone. The decision list drops an exact repeat of its newest
 *   entry (the same event delivered on two channels).
 * - Tasks only move forward: `routed` → `running` → `completed` | `failed`. Once terminal,
 *   a task ignores every later task event, including `task.started` (events for one id may
 *   arrive on several channels, so a late start must not reopen it). `task.completed` sets
 *   `progress` to 100.
 * - Requests: any request event for an unknown id creates it (a client may subscribe
 *   mid-run). The status is `waiting` while a question is unanswered, `running` otherwise,
 *   until `request.completed` / `request.error` / `request.cancelled`; the first of those
 *   wins and is final. A finished request still records late `step.progress`,
 *   `agent.completed` and `request.started` details (they describe what happened), but never
 *   changes status, and ignores later questions, feedback, errors and results.
 * - Steps: one entry per `stepId`, or per (`agent`, `step`) when there is no `stepId`; kept
 *   in order of `stepOrder ?? step`, arrival order among equals. A later progress for a step
 *   merges into its entry (so `tool` from `running` survives a `completed` without it).
 * - Questions: keyed by `questionId`. Feedback answers one; feedback for a question not seen
 *   yet records it answered (with an empty text until the question arrives), so delivery
 *   order does not matter.
 * - `request.error` without a `requestId` cannot belong to a request: it becomes an error
 *   notification with `details: { agent, step }`.
 * - Sessions: each `session.status` is a full report and replaces the session's view.
 * - Chats: a message whose id equals `lastMessageId` is a duplicate and not counted;
 *   participants are a set in join order; `participant.left` for an unknown chat is a no-op.
 * - Notifications append, newest last, at most `MAX_NOTIFICATIONS`; an exact repeat of the
 *   newest one that carries a timestamp is a duplicate delivery and dropped.
 * - Knowledge: `*.added` count one each; `knowledge.updated` sets the absolute counts it
 *   carries and leaves the others.
 * - Metrics are keyed by `scope`, or `scope:name` when named, and replaced whole.
 * - `dashboard.update` merges field by field: a field it lacks keeps its previous value.
 */
export function reduce(state: AgentwireState, event: AgentEvent): AgentwireState {
  switch (event.type) {
    case 'routing.decision':
      return routingDecision(state, event.payload)
    case 'agent.status': {
      const p = event.payload
      const prev = getKey(state.agents, p.name)
      const next = patch(prev ?? { name: p.name }, { status: p.status, load: p.load, details: p.agent })
      return next === prev ? state : { ...state, agents: withKey(state.agents, p.name, next) }
    }
    case 'agent.created':
    case 'agent.updated': {
      const p = event.payload
      const prev = getKey(state.agents, p.agentId)
      const named = p.agent['name']
      const name = typeof named === 'string' && named !== '' ? named : (prev?.name ?? p.agentId)
      const next = patch(prev ?? { name }, { name, details: p.agent })
      return next === prev ? state : { ...state, agents: withKey(state.agents, p.agentId, next) }
    }
    case 'agent.deleted':
      return removeFrom(state, 'agents', event.payload.agentId)
    case 'session.status':
      return sessionStatus(state, event.payload)
    case 'chat.created':
    case 'chat.updated': {
      const p = event.payload
      const prev = getKey(state.chats, p.chatId)
      return putChat(state, prev, patch(prev ?? newChat(p.chatId), { chat: p.chat }))
    }
    case 'chat.deleted':
      return removeFrom(state, 'chats', event.payload.chatId)
    case 'chat.message.created': {
      const p = event.payload
      const prev = getKey(state.chats, p.chatId) ?? newChat(p.chatId)
      if (prev.lastMessageId === p.messageId) return state
      return putChat(state, undefined, { ...prev, messages: prev.messages + 1, lastMessageId: p.messageId })
    }
    case 'chat.participant.joined': {
      const p = event.payload
      const prev = getKey(state.chats, p.chatId)
      const base = prev ?? newChat(p.chatId)
      if (prev && base.participants.includes(p.participantId)) return state
      return putChat(state, undefined, { ...base, participants: [...base.participants, p.participantId] })
    }
    case 'chat.participant.left': {
      const p = event.payload
      const prev = getKey(state.chats, p.chatId)
      if (!prev || !prev.participants.includes(p.participantId)) return state
      return putChat(state, undefined, { ...prev, participants: prev.participants.filter((x) => x !== p.participantId) })
    }
    case 'collection.created':
    case 'collection.updated': {
      const p = event.payload
      const prev = getKey(state.collections, p.collectionId)
      const next = prev ? patch(prev, { metadata: p.metadata }) : { id: p.collectionId, metadata: p.metadata }
      return next === prev ? state : { ...state, collections: withKey(state.collections, p.collectionId, next) }
    }
    case 'collection.deleted':
      return removeFrom(state, 'collections', event.payload.collectionId)
    case 'system.notification': {
      const p = event.payload
      const entry: Mutable<NotificationView> = { level: p.level, message: p.message }
      if (p.title !== undefined) entry.title = p.title
      if (p.details !== undefined) entry.details = p.details
      if (p.sessionId !== undefined) entry.sessionId = p.sessionId
      if (p.userId !== undefined) entry.userId = p.userId
      if (p.timestamp !== undefined) entry.timestamp = p.timestamp
      return notify(state, entry)
    }
    case 'request.started': {
      const p = event.payload
      const prev = getKey(state.requests, p.requestId)
      return putRequest(state, prev, patch(prev ?? newRequest(p.requestId), { query: p.query, context: p.context }))
    }
    case 'step.progress':
      return stepProgress(state, event.payload)
    case 'agent.completed': {
      const p = event.payload
      const prev = getKey(state.requests, p.requestId)
      const base = prev ?? newRequest(p.requestId)
      if (prev && base.completedAgents.includes(p.agent)) return state
      return putRequest(state, prev, { ...base, completedAgents: [...base.completedAgents, p.agent] })
    }
    case 'request.question':
      return requestQuestion(state, event.payload)
    case 'request.feedback':
      return requestFeedback(state, event.payload)
    case 'request.error': {
      const p = event.payload
      if (p.requestId === undefined) {
        const details: { agent?: string; step?: number } = {}
        if (p.agent !== undefined) details.agent = p.agent
        if (p.step !== undefined) details.step = p.step
        return notify(state, { level: 'error', message: p.message, details })
      }
      const error: Mutable<NonNullable<RequestView['error']>> = { message: p.message }
      if (p.agent !== undefined) error.agent = p.agent
      if (p.step !== undefined) error.step = p.step
      return finishRequest(state, p.requestId, 'failed', { error })
    }
    case 'request.completed':
      return finishRequest(state, event.payload.requestId, 'completed', { result: event.payload.result })
    case 'request.cancelled':
      return finishRequest(state, event.payload.requestId, 'cancelled', { cancelReason: event.payload.reason })
    case 'task.started': {
      const p = event.payload
      return updateTask(state, p.taskId, {
        status: 'running',
        name: p.name,
        agent: p.agent,
        description: p.description,
      })
    }
    case 'task.progress': {
      const p = event.payload
      return updateTask(state, p.taskId, {
        status: 'running',
        progress: p.progress,
        message: p.message,
        step: p.step,
        agent: p.agent,
      })
    }
    case 'task.completed': {
      const p = event.payload
      return updateTask(state, p.taskId, { status: 'completed', progress: 100, result: p.result, durationMs: p.durationMs })
    }
    case 'task.failed':
      return updateTask(state, event.payload.taskId, { status: 'failed', error: event.payload.error })
    case 'knowledge.node.added':
      return { ...state, knowledge: { nodes: state.knowledge.nodes + 1, edges: state.knowledge.edges } }
    case 'knowledge.edge.added':
      return { ...state, knowledge: { nodes: state.knowledge.nodes, edges: state.knowledge.edges + 1 } }
    case 'knowledge.updated': {
      const next = patch(state.knowledge, { nodes: event.payload.nodes, edges: event.payload.edges })
      return next === state.knowledge ? state : { ...state, knowledge: next }
    }
    case 'metrics.snapshot': {
      const p = event.payload
      const key = p.name === undefined ? p.scope : `${p.scope}:${p.name}`
      const prev = getKey(state.metrics, key)
      const next: Mutable<NonNullable<typeof prev>> = { scope: p.scope, values: p.values }
      if (p.name !== undefined) next.name = p.name
      if (p.timestamp !== undefined) next.timestamp = p.timestamp
      if (prev && deepEqual(prev, next)) return state
      return { ...state, metrics: withKey(state.metrics, key, next) }
    }
    case 'dashboard.update': {
      const p = event.payload
      const prev = state.dashboard
      const next = patch(prev ?? {}, { agents: p.agents, tasks: p.tasks, metrics: p.metrics, timestamp: p.timestamp })
      return next === prev ? state : { ...state, dashboard: next }
    }
    default: {
      // Exhaustive over the known union; a newer server's event type lands here at runtime.
      const unknown: never = event
      void unknown
      return state
    }
  }
}

/** The state before any event. */
export function initialState(): AgentwireState {
  return {
    agents: emptyRecord(),
    tasks: emptyRecord(),
    requests: emptyRecord(),
    sessions: emptyRecord(),
    chats: emptyRecord(),
    collections: emptyRecord(),
    knowledge: { nodes: 0, edges: 0 },
    metrics: emptyRecord(),
    dashboard: null,
    notifications: [],
    decisions: [],
  }
}

/** Whether a request has reached a state no later event may change. */
export function isTerminalRequest(status: RequestStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled'
}

/** Whether a task has reached a state no later event may change. */
export function isTerminalTask(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed'
}

// ── helpers ────────────────────────────────────────────────────────────────────────────

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
type Keyed = 'agents' | 'tasks' | 'requests' | 'sessions' | 'chats' | 'collections' | 'metrics'
type Patch<T> = { [K in keyof T]?: T[K] | undefined }

/** Shared empty lists for new entities: never mutated, so sharing costs nothing. */
const NONE: readonly never[] = Object.freeze([])

/**
 * `prev` with the defined fields of `fields` set; `prev` itself when every one of them is
 * already (structurally) there. The one place entity fields change, so "nothing changed"
 * is detected everywhere the same way.
 */
function patch<T extends object>(prev: T, fields: Patch<T>): T {
  let out: Mutable<T> | undefined
  for (const key in fields) {
    const value = fields[key]
    if (value === undefined || deepEqual(prev[key], value)) continue
    out ??= { ...prev }
    out[key] = value as T[typeof key]
  }
  return out ?? prev
}

function removeFrom(state: AgentwireState, collection: Keyed, key: string): AgentwireState {
  const prev = state[collection]
  const next = withoutKey<unknown>(prev, key)
  return next === prev ? state : { ...state, [collection]: next }
}

/** Appends to a bounded list, dropping the oldest entries. */
function append<T>(list: readonly T[], entry: T, max: number): readonly T[] {
  const start = list.length >= max ? list.length - max + 1 : 0
  const out = list.slice(start)
  out.push(entry)
  return out
}

function notify(state: AgentwireState, entry: NotificationView): AgentwireState {
  const last = state.notifications[state.notifications.length - 1]
  if (entry.timestamp !== undefined && last && deepEqual(last, entry)) return state
  return { ...state, notifications: append(state.notifications, entry, MAX_NOTIFICATIONS) }
}

function routingDecision(state: AgentwireState, p: PayloadOf<'routing.decision'>): AgentwireState {
  const name = p.agent.name
  const prevAgent = getKey(state.agents, name)
  const agent = patch<AgentView>(prevAgent ?? { name }, {
    strengths: p.agent.strengths,
    cost: p.agent.cost,
    latency: p.agent.latency,
    lastDecision: { taskId: p.taskId, timestamp: p.timestamp },
  })
  const prevTask = getKey(state.tasks, p.taskId)
  let task: TaskView | undefined
  if (!prevTask) task = { id: p.taskId, status: 'routed', progress: 0, agent: name }
  else if (!isTerminalTask(prevTask.status)) task = patch(prevTask, { agent: name })
  else task = prevTask
  const decision: DecisionView = { taskId: p.taskId, agent: name, cost: p.agent.cost, latency: p.agent.latency, timestamp: p.timestamp }
  const last = state.decisions[state.decisions.length - 1]
  const decisions = last && deepEqual(last, decision) ? state.decisions : append(state.decisions, decision, MAX_DECISIONS)
  const agents = agent === prevAgent ? state.agents : withKey(state.agents, name, agent)
  const tasks = task === prevTask ? state.tasks : withKey(state.tasks, p.taskId, task)
  if (agents === state.agents && tasks === state.tasks && decisions === state.decisions) return state
  return { ...state, agents, tasks, decisions }
}

function sessionStatus(state: AgentwireState, p: PayloadOf<'session.status'>): AgentwireState {
  const next: Mutable<SessionView> = { id: p.sessionId, status: p.status }
  if (p.progress !== undefined) next.progress = p.progress
  if (p.message !== undefined) next.message = p.message
  if (p.timestamp !== undefined) next.timestamp = p.timestamp
  const prev = getKey(state.sessions, p.sessionId)
  if (prev && deepEqual(prev, next)) return state
  return { ...state, sessions: withKey(state.sessions, p.sessionId, next) }
}

function newChat(id: string): ChatView {
  return { id, messages: 0, participants: NONE }
}

/** Stores `next` unless it is `prev` (nothing changed). */
function putChat(state: AgentwireState, prev: ChatView | undefined, next: ChatView): AgentwireState {
  return next === prev ? state : { ...state, chats: withKey(state.chats, next.id, next) }
}

function updateTask(state: AgentwireState, id: string, fields: Patch<TaskView>): AgentwireState {
  const prev = getKey(state.tasks, id)
  if (prev && isTerminalTask(prev.status)) return state
  const next = patch<TaskView>(prev ?? { id, status: 'running', progress: 0 }, fields)
  return next === prev ? state : { ...state, tasks: withKey(state.tasks, id, next) }
}

function newRequest(id: string): RequestView {
  return { id, status: 'running', steps: NONE, questions: NONE, completedAgents: NONE }
}

function putRequest(state: AgentwireState, prev: RequestView | undefined, next: RequestView): AgentwireState {
  return next === prev ? state : { ...state, requests: withKey(state.requests, next.id, next) }
}

function finishRequest(state: AgentwireState, id: string, status: RequestStatus, fields: Patch<RequestView>): AgentwireState {
  const prev = getKey(state.requests, id)
  if (prev && isTerminalRequest(prev.status)) return state
  return putRequest(state, prev, patch(prev ?? newRequest(id), { ...fields, status }))
}

/** The open questions decide between `waiting` and `running` (callers have ruled out a terminal status). */
function withQuestions(request: RequestView, questions: readonly QuestionView[]): RequestView {
  const status: RequestStatus = questions.some((q) => !q.answered) ? 'waiting' : 'running'
  return { ...request, questions, status }
}

function stepOrderOf(step: StepView): number {
  return step.stepOrder ?? step.step
}

function stepProgress(state: AgentwireState, p: PayloadOf<'step.progress'>): AgentwireState {
  const prev = getKey(state.requests, p.requestId)
  const request = prev ?? newRequest(p.requestId)
  const steps = request.steps
  const index = steps.findIndex((s) =>
    p.stepId !== undefined ? s.stepId === p.stepId : s.stepId === undefined && s.agent === p.agent && s.step === p.step,
  )
  const old = index < 0 ? undefined : steps[index]
  const entry = patch<StepView>(old ?? { step: p.step, agent: p.agent, status: p.status }, {
    step: p.step,
    agent: p.agent,
    status: p.status,
    stepId: p.stepId,
    stepOrder: p.stepOrder,
    tool: p.tool,
    result: p.result,
    data: p.data,
  })
  if (entry === old) return state
  let next: StepView[]
  if (old && stepOrderOf(old) === stepOrderOf(entry)) {
    next = steps.slice()
    next[index] = entry
  } else {
    next = index < 0 ? steps.slice() : steps.filter((_, i) => i !== index)
    // Progress usually arrives in order, so the place is found from the end.
    const order = stepOrderOf(entry)
    let at = next.length
    while (at > 0 && stepOrderOf(next[at - 1] as StepView) > order) at--
    next.splice(at, 0, entry)
  }
  return putRequest(state, prev, { ...request, steps: next })
}

function requestQuestion(state: AgentwireState, p: PayloadOf<'request.question'>): AgentwireState {
  const prev = getKey(state.requests, p.requestId)
  if (prev && isTerminalRequest(prev.status)) return state
  const request = prev ?? newRequest(p.requestId)
  const index = request.questions.findIndex((q) => q.questionId === p.questionId)
  const old = request.questions[index]
  const fields = { question: p.question, options: p.options, agent: p.agent }
  const entry = patch<QuestionView>(old ?? { questionId: p.questionId, question: p.question, answered: false }, fields)
  if (entry === old) return state
  const questions = old ? request.questions.map((q, i) => (i === index ? entry : q)) : [...request.questions, entry]
  return putRequest(state, prev, withQuestions(request, questions))
}

function requestFeedback(state: AgentwireState, p: PayloadOf<'request.feedback'>): AgentwireState {
  const prev = getKey(state.requests, p.requestId)
  if (prev && isTerminalRequest(prev.status)) return state
  const request = prev ?? newRequest(p.requestId)
  const index = request.questions.findIndex((q) => q.questionId === p.questionId)
  const old = request.questions[index]
  const entry = patch<QuestionView>(old ?? { questionId: p.questionId, question: '', answered: true }, {
    answered: true,
    answer: p.answer,
  })
  if (entry === old) return state
  const questions = old ? request.questions.map((q, i) => (i === index ? entry : q)) : [...request.questions, entry]
  return putRequest(state, prev, withQuestions(request, questions))
}
