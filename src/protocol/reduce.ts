import { deepEqual } from './equal'
import type { AgentEvent, PayloadOf } from './events'
import { emptyRecord, getKey } from './records'
import {
  type AgentView,
  type AgentwireState,
  type ChatView,
  type CollectionView,
  type DashboardView,
  type DecisionView,
  type MetricsView,
  type NotificationView,
  type QuestionView,
  type RequestStatus,
  type RequestView,
  type SessionView,
  type StepView,
  type TaskStatus,
  type TaskView,
} from './state'
import { StateWriter, type Keyed, type Mutable, type ViewOf } from './writer'

/**
 * `reduce(state, event)` folds one canonical event into the state a dashboard shows. The
 * client's store and the gateway's snapshots both use it, so they agree by construction.
 *
 * Purity and sharing:
 * - Nothing is mutated. Only the path an event changes is copied: the changed entity, its
 *   collection and the root. Every other entity and collection keeps its object identity.
 *   (Each event's effect is written once, against a writer (`./writer`); here the writer
 *   copies, and in {@link createDraft} it copies once per batch and then changes its copies.)
 * - An event that changes nothing (same status again, a duplicate message id, a late event
 *   for a finished request) returns `state` itself. Values are compared structurally, so a
 *   re-sent record equal to the stored one keeps the stored object.
 * - Keyed collections are null-prototype records, copied only through `./records` and
 *   written only on such copies, so ids such as `__proto__` or `constructor` are ordinary keys.
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
  const writer = new StateWriter(state, false)
  fold(writer, event)
  return writer.state
}

/**
 * A state that a batch of events folds into cheaply, for a consumer that reads the result
 * less often than events arrive (the client's store reads it once per notification).
 * Folding gives exactly what `reduce` gives, event by event; the difference is the cost:
 * between two reads, each collection and entity an event changes is copied once, and later
 * events change that copy in place, where `reduce` copies the collection, the entity and the
 * root for every event (a 1,000-agent record once per status update).
 */
export interface StateDraft {
  /** Folds `event` in, as `reduce` would; whether it changed anything. */
  apply(event: AgentEvent): boolean
  /**
   * The state folded so far, as `reduce` would have built it, with the same sharing: an
   * entity no event changed since the previous `current()` is the previous one's object, and
   * nothing changed gives the very same state. It is immutable from now on: later events copy
   * what they change again, so a state once returned never changes under its reader.
   */
  current(): AgentwireState
  /** Starts over from `state` (kept by reference, never changed). */
  reset(state: AgentwireState): void
}

/** A {@link StateDraft} starting from `base` (kept by reference, never changed). */
export function createDraft(base: AgentwireState = initialState()): StateDraft {
  const writer = new StateWriter(base, true)
  return {
    apply(event) {
      writer.tidy()
      writer.dirty = false
      fold(writer, event)
      return writer.dirty
    },
    current: () => writer.finish(),
    reset: (state) => writer.reset(state),
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

// ── the fold: every event's effect, written once against a StateWriter ───────────────────

/**
 * Folds `event` into `w.state`. Reads go to `w.state`; every change goes through `w`, which
 * decides whether it copies (`reduce`) or changes its own copies in place (`createDraft`).
 * Nothing is changed unless it differs, so an event that changes nothing writes nothing.
 */
function fold(w: StateWriter, event: AgentEvent): void {
  const s = w.state
  switch (event.type) {
    case 'routing.decision':
      return routingDecision(w, event.payload)
    case 'agent.status': {
      const p = event.payload
      return upsert(w, 'agents', p.name, getKey(s.agents, p.name), newAgent, { status: p.status, load: p.load, details: p.agent })
    }
    case 'agent.created':
    case 'agent.updated': {
      const p = event.payload
      const prev = getKey(s.agents, p.agentId)
      const named = p.agent['name']
      const name = typeof named === 'string' && named !== '' ? named : (prev?.name ?? p.agentId)
      return upsert(w, 'agents', p.agentId, prev, newAgent, { name, details: p.agent })
    }
    case 'agent.deleted':
      return w.remove('agents', event.payload.agentId)
    case 'session.status':
      return sessionStatus(w, event.payload)
    case 'chat.created':
    case 'chat.updated': {
      const p = event.payload
      return upsert(w, 'chats', p.chatId, getKey(s.chats, p.chatId), newChat, { chat: p.chat })
    }
    case 'chat.deleted':
      return w.remove('chats', event.payload.chatId)
    case 'chat.message.created': {
      const p = event.payload
      const prev = getKey(s.chats, p.chatId)
      if (prev?.lastMessageId === p.messageId) return
      const chat = prev ? w.own(prev) : w.adopt(newChat(p.chatId))
      chat.messages += 1
      chat.lastMessageId = p.messageId
      return w.set('chats', p.chatId, chat)
    }
    case 'chat.participant.joined':
      return addOnce(w, 'chats', event.payload.chatId, newChat, 'participants', event.payload.participantId)
    case 'chat.participant.left': {
      const p = event.payload
      const prev = getKey(s.chats, p.chatId)
      if (!prev || !prev.participants.includes(p.participantId)) return
      const chat = w.own(prev)
      const participants = w.own(chat.participants)
      for (let i = participants.length - 1; i >= 0; i--) if (participants[i] === p.participantId) participants.splice(i, 1)
      chat.participants = participants
      return w.set('chats', p.chatId, chat)
    }
    case 'collection.created':
    case 'collection.updated': {
      const p = event.payload
      return upsert(w, 'collections', p.collectionId, getKey(s.collections, p.collectionId), newCollection, { metadata: p.metadata })
    }
    case 'collection.deleted':
      return w.remove('collections', event.payload.collectionId)
    case 'system.notification': {
      const p = event.payload
      const entry: Mutable<NotificationView> = { level: p.level, message: p.message }
      if (p.title !== undefined) entry.title = p.title
      if (p.details !== undefined) entry.details = p.details
      if (p.sessionId !== undefined) entry.sessionId = p.sessionId
      if (p.userId !== undefined) entry.userId = p.userId
      if (p.timestamp !== undefined) entry.timestamp = p.timestamp
      return notify(w, entry)
    }
    case 'request.started': {
      const p = event.payload
      return upsert(w, 'requests', p.requestId, getKey(s.requests, p.requestId), newRequest, { query: p.query, context: p.context })
    }
    case 'step.progress':
      return stepProgress(w, event.payload)
    case 'agent.completed':
      return addOnce(w, 'requests', event.payload.requestId, newRequest, 'completedAgents', event.payload.agent)
    case 'request.question': {
      const p = event.payload
      const fresh = { questionId: p.questionId, question: p.question, answered: false }
      return questionEvent(w, p.requestId, fresh, { question: p.question, options: p.options, agent: p.agent })
    }
    case 'request.feedback': {
      const p = event.payload
      return questionEvent(w, p.requestId, { questionId: p.questionId, question: '', answered: true }, { answered: true, answer: p.answer })
    }
    case 'request.error': {
      const p = event.payload
      if (p.requestId === undefined) {
        const details: { agent?: string; step?: number } = {}
        if (p.agent !== undefined) details.agent = p.agent
        if (p.step !== undefined) details.step = p.step
        return notify(w, { level: 'error', message: p.message, details })
      }
      const error: Mutable<NonNullable<RequestView['error']>> = { message: p.message }
      if (p.agent !== undefined) error.agent = p.agent
      if (p.step !== undefined) error.step = p.step
      return finishRequest(w, p.requestId, 'failed', { error })
    }
    case 'request.completed':
      return finishRequest(w, event.payload.requestId, 'completed', { result: event.payload.result })
    case 'request.cancelled':
      return finishRequest(w, event.payload.requestId, 'cancelled', { cancelReason: event.payload.reason })
    case 'task.started': {
      const p = event.payload
      return updateTask(w, p.taskId, { status: 'running', name: p.name, agent: p.agent, description: p.description })
    }
    case 'task.progress': {
      const p = event.payload
      return updateTask(w, p.taskId, { status: 'running', progress: p.progress, message: p.message, step: p.step, agent: p.agent })
    }
    case 'task.completed': {
      const p = event.payload
      return updateTask(w, p.taskId, { status: 'completed', progress: 100, result: p.result, durationMs: p.durationMs })
    }
    case 'task.failed':
      return updateTask(w, event.payload.taskId, { status: 'failed', error: event.payload.error })
    case 'knowledge.node.added': {
      const knowledge = w.own(s.knowledge)
      knowledge.nodes += 1
      return w.put('knowledge', knowledge)
    }
    case 'knowledge.edge.added': {
      const knowledge = w.own(s.knowledge)
      knowledge.edges += 1
      return w.put('knowledge', knowledge)
    }
    case 'knowledge.updated': {
      const next = patch(w, s.knowledge, { nodes: event.payload.nodes, edges: event.payload.edges })
      if (next) w.put('knowledge', next)
      return
    }
    case 'metrics.snapshot': {
      const p = event.payload
      const key = p.name === undefined ? p.scope : `${p.scope}:${p.name}`
      const next: Mutable<MetricsView> = { scope: p.scope, values: p.values }
      if (p.name !== undefined) next.name = p.name
      if (p.timestamp !== undefined) next.timestamp = p.timestamp
      const prev = getKey(s.metrics, key)
      if (prev && deepEqual(prev, next)) return
      return w.set('metrics', key, next)
    }
    case 'dashboard.update': {
      const p = event.payload
      const prev = s.dashboard
      const fields = { agents: p.agents, tasks: p.tasks, metrics: p.metrics, timestamp: p.timestamp }
      const next = prev ? patch(w, prev, fields) : create<DashboardView>(w, {}, fields)
      if (next) w.put('dashboard', next)
      return
    }
    default: {
      // Exhaustive over the known union; a newer server's event type lands here at runtime.
      const unknown: never = event
      void unknown
      return
    }
  }
}

type Patch<T> = { [K in keyof T]?: T[K] | undefined }

/** Shared empty lists for new entities: never changed (a writer copies them first), so sharing costs nothing. */
const NONE: readonly never[] = Object.freeze([])

/**
 * Sets the defined `fields` of `prev` that differ from it (structurally, so "nothing changed"
 * is detected everywhere the same way). Returns what to store, or `undefined` when every
 * field is already there: the one place entity fields change.
 */
function patch<T extends object>(w: StateWriter, prev: T, fields: Patch<T>): T | undefined {
  let out: Mutable<T> | undefined
  for (const key in fields) {
    const value = fields[key]
    if (value === undefined) continue
    const old = prev[key]
    // Primitives compare by `===`, as `deepEqual` would; only objects need the walk.
    if (old === value || (typeof value === 'object' && deepEqual(old, value))) continue
    out ??= w.own(prev)
    out[key] = value as T[typeof key]
  }
  return out
}

/** A new entity: `fresh` with the defined `fields` set, owned by the writer. */
function create<T extends object>(w: StateWriter, fresh: Mutable<T>, fields: Patch<T>): T {
  for (const key in fields) {
    const value = fields[key]
    if (value !== undefined) fresh[key] = value as T[typeof key]
  }
  return w.adopt(fresh)
}

/** Patches the entity `prev` at `key`, or creates it from `fresh(key)` (stored even when `fields` add nothing). */
function upsert<K extends Keyed>(
  w: StateWriter,
  collection: K,
  key: string,
  prev: ViewOf<K> | undefined,
  fresh: (key: string) => Mutable<ViewOf<K>>,
  fields: Patch<ViewOf<K>>,
): void {
  const next = prev ? patch<ViewOf<K>>(w, prev, fields) : create<ViewOf<K>>(w, fresh(key), fields)
  if (next) w.set(collection, key, next)
}

/** The fields of `T` that hold a list of strings used as a set. */
type StringList<T> = { [P in keyof T]-?: T[P] extends readonly string[] | undefined ? P : never }[keyof T]

/** Adds `item` to the set-like list `field` of the entity at `key` (made by `fresh` when new); nothing when it holds it already. */
function addOnce<K extends Keyed>(
  w: StateWriter,
  collection: K,
  key: string,
  fresh: (key: string) => Mutable<ViewOf<K>>,
  field: StringList<ViewOf<K>>,
  item: string,
): void {
  const prev = getKey(w.state[collection] as Readonly<Record<string, ViewOf<K>>>, key)
  if (prev && (prev[field] as readonly string[]).includes(item)) return
  const entity = prev ? w.own(prev) : w.adopt(fresh(key))
  const list = w.own(entity[field] as readonly string[])
  list.push(item)
  ;(entity as Record<typeof field, unknown>)[field] = list
  w.set(collection, key, entity as ViewOf<K>)
}

function newAgent(name: string): Mutable<AgentView> {
  return { name }
}

function newTask(id: string): Mutable<TaskView> {
  return { id, status: 'running', progress: 0 }
}

function newChat(id: string): Mutable<ChatView> {
  return { id, messages: 0, participants: NONE }
}

function newCollection(id: string): Mutable<CollectionView> {
  return { id, metadata: {} }
}

function newRequest(id: string): Mutable<RequestView> {
  return { id, status: 'running', steps: NONE, questions: NONE, completedAgents: NONE }
}

function notify(w: StateWriter, entry: NotificationView): void {
  const list = w.state.notifications
  const last = list[list.length - 1]
  if (entry.timestamp !== undefined && last && deepEqual(last, entry)) return
  w.append('notifications', entry)
}

function routingDecision(w: StateWriter, p: PayloadOf<'routing.decision'>): void {
  const name = p.agent.name
  const prevAgent = getKey(w.state.agents, name)
  const seen = prevAgent?.lastDecision
  upsert(w, 'agents', name, prevAgent, newAgent, {
    strengths: p.agent.strengths,
    cost: p.agent.cost,
    latency: p.agent.latency,
    // The stored object when it says the same: spares building one only to compare it.
    lastDecision: seen && seen.taskId === p.taskId && seen.timestamp === p.timestamp ? seen : { taskId: p.taskId, timestamp: p.timestamp },
  })
  const prevTask = getKey(w.state.tasks, p.taskId)
  if (!prevTask) w.set('tasks', p.taskId, w.adopt<TaskView>({ id: p.taskId, status: 'routed', progress: 0, agent: name }))
  else if (!isTerminalTask(prevTask.status)) {
    const task = patch(w, prevTask, { agent: name })
    if (task) w.set('tasks', p.taskId, task)
  }
  const decision: DecisionView = { taskId: p.taskId, agent: name, cost: p.agent.cost, latency: p.agent.latency, timestamp: p.timestamp }
  const decisions = w.state.decisions
  const last = decisions[decisions.length - 1]
  if (!last || !deepEqual(last, decision)) w.append('decisions', decision)
}

function sessionStatus(w: StateWriter, p: PayloadOf<'session.status'>): void {
  const next: Mutable<SessionView> = { id: p.sessionId, status: p.status }
  if (p.progress !== undefined) next.progress = p.progress
  if (p.message !== undefined) next.message = p.message
  if (p.timestamp !== undefined) next.timestamp = p.timestamp
  const prev = getKey(w.state.sessions, p.sessionId)
  if (prev && deepEqual(prev, next)) return
  w.set('sessions', p.sessionId, next)
}

function updateTask(w: StateWriter, id: string, fields: Patch<TaskView>): void {
  const prev = getKey(w.state.tasks, id)
  if (prev && isTerminalTask(prev.status)) return
  upsert(w, 'tasks', id, prev, newTask, fields)
}

function finishRequest(w: StateWriter, id: string, status: RequestStatus, fields: Patch<RequestView>): void {
  const prev = getKey(w.state.requests, id)
  if (prev && isTerminalRequest(prev.status)) return
  upsert(w, 'requests', id, prev, newRequest, { ...fields, status })
}

function stepOrderOf(step: StepView): number {
  return step.stepOrder ?? step.step
}

function stepProgress(w: StateWriter, p: PayloadOf<'step.progress'>): void {
  const prev = getKey(w.state.requests, p.requestId)
  const steps = prev ? prev.steps : NONE
  let index = -1
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i] as StepView
    if (p.stepId !== undefined ? s.stepId === p.stepId : s.stepId === undefined && s.agent === p.agent && s.step === p.step) {
      index = i
      break
    }
  }
  const old = index < 0 ? undefined : steps[index]
  // Read before patching: a draft changes its own entry in place.
  const oldOrder = old ? stepOrderOf(old) : undefined
  const fields = {
    step: p.step,
    agent: p.agent,
    status: p.status,
    stepId: p.stepId,
    stepOrder: p.stepOrder,
    tool: p.tool,
    result: p.result,
    data: p.data,
  }
  const entry = old ? patch<StepView>(w, old, fields) : create<StepView>(w, { step: p.step, agent: p.agent, status: p.status }, fields)
  if (!entry) return
  const request = prev ? w.own(prev) : w.adopt(newRequest(p.requestId))
  const list = w.own(request.steps)
  const order = stepOrderOf(entry)
  if (oldOrder === order) list[index] = entry
  else {
    if (index >= 0) list.splice(index, 1)
    // Progress usually arrives in order, so the place is found from the end.
    let at = list.length
    while (at > 0 && stepOrderOf(list[at - 1] as StepView) > order) at--
    list.splice(at, 0, entry)
  }
  request.steps = list
  w.set('requests', p.requestId, request)
}

/**
 * A question or its feedback: patches question `fresh.questionId` of the request, or adds it
 * as `fresh`, and derives `waiting` / `running`. A finished request ignores both.
 */
function questionEvent(w: StateWriter, id: string, fresh: Mutable<QuestionView>, fields: Patch<QuestionView>): void {
  const prev = getKey(w.state.requests, id)
  if (prev && isTerminalRequest(prev.status)) return
  const questions = prev ? prev.questions : NONE
  const index = questions.findIndex((q) => q.questionId === fresh.questionId)
  const old = questions[index]
  const entry = old ? patch(w, old, fields) : create(w, fresh, fields)
  if (!entry) return
  const request = prev ? w.own(prev) : w.adopt(newRequest(id))
  const list = w.own(request.questions)
  if (index < 0) list.push(entry)
  else list[index] = entry
  request.questions = list
  request.status = list.some((q) => !q.answered) ? 'waiting' : 'running'
  w.set('requests', id, request)
}
