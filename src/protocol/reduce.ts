import type { AgentEvent, EventType } from './events'
import { emptyRecord } from './records'
import type { AgentwireState } from './state'
import { StateWriter } from './writer'
import { agents } from './reduce/agents'
import { chats } from './reduce/chats'
import { collections } from './reduce/collections'
import { dashboard } from './reduce/dashboard'
import { decisions } from './reduce/decisions'
import type { EntityReducer } from './reduce/entity'
import { knowledge } from './reduce/knowledge'
import { messages } from './reduce/messages'
import { metrics } from './reduce/metrics'
import { notifications } from './reduce/notifications'
import { requests } from './reduce/requests'
import { sessions } from './reduce/sessions'
import { tasks } from './reduce/tasks'

export { isTerminalRequest } from './reduce/requests'
export { isTerminalTask } from './reduce/tasks'

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
 * - Streamed messages and tool calls (`message.*`, `tool.call.*`) build `RequestView.messages`,
 *   and `request.state` replaces `RequestView.state`; their rules are on `./reduce/messages`.
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

// ── the fold: each entity's reducer (`./reduce/*`), composed ─────────────────────────────

/**
 * One reducer per entity of the state. An event runs the functions of every entity that names
 * its type, in this order (a `routing.decision` changes agents, tasks and decisions).
 */
const ENTITIES = [agents, tasks, requests, messages, sessions, chats, collections, knowledge, metrics, dashboard, notifications, decisions] as const

// Every known event type changes some entity; one that none names fails to compile here.
type Reduced = (typeof ENTITIES)[number] extends infer E ? (E extends unknown ? keyof E : never) : never
const unreduced: [Exclude<EventType, Reduced>] extends [never] ? null : Exclude<EventType, Reduced> = null
void unreduced

type Step = (w: StateWriter, payload: never) => void

/** Event type → the entity functions it runs; a `Map`, so a type such as `constructor` is no key. */
const STEPS = new Map<string, readonly Step[]>()
const NO_STEPS: readonly Step[] = []
for (const entity of ENTITIES as readonly EntityReducer[]) {
  for (const type in entity) STEPS.set(type, [...(STEPS.get(type) ?? NO_STEPS), entity[type as EventType] as Step])
}

/**
 * Folds `event` into `w.state`. Reads go to `w.state`; every change goes through `w`, which
 * decides whether it copies (`reduce`) or changes its own copies in place (`createDraft`).
 * Nothing is changed unless it differs, so an event that changes nothing writes nothing.
 * A newer server's event type runs nothing, and the state stays as it is.
 */
function fold(w: StateWriter, event: AgentEvent): void {
  for (const step of STEPS.get(event.type) ?? NO_STEPS) step(w, event.payload as never)
}
