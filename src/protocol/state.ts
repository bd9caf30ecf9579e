import type { MessageView } from './messages'
import type { AgentStatusValue, MetricsScope, NotificationLevel, Open, StepStatusValue } from './events'

/**
 * What a dashboard shows, folded from canonical events by `reduce`. Immutable and
 * structurally shared: an entity keeps its object identity until an event changes it.
 * Keyed collections are null-prototype objects, so an id such as `__proto__` or
 * `constructor` is an ordinary key.
 */
export interface AgentwireState {
  readonly agents: Readonly<Record<string, AgentView>>
  readonly tasks: Readonly<Record<string, TaskView>>
  readonly requests: Readonly<Record<string, RequestView>>
  readonly sessions: Readonly<Record<string, SessionView>>
  readonly chats: Readonly<Record<string, ChatView>>
  readonly collections: Readonly<Record<string, CollectionView>>
  readonly knowledge: KnowledgeView
  /** Latest metrics per `scope` or `scope:name`. */
  readonly metrics: Readonly<Record<string, MetricsView>>
  readonly dashboard: DashboardView | null
  /** The newest notifications, oldest first, at most {@link MAX_NOTIFICATIONS}. */
  readonly notifications: readonly NotificationView[]
  /** The newest routing decisions, oldest first, at most {@link MAX_DECISIONS}. */
  readonly decisions: readonly DecisionView[]
}

export const MAX_NOTIFICATIONS = 50
export const MAX_DECISIONS = 50

export interface AgentView {
  readonly name: string
  readonly status?: AgentStatusValue
  readonly load?: number
  readonly strengths?: readonly string[]
  readonly cost?: number
  readonly latency?: number
  /** The last routing decision that chose this agent. */
  readonly lastDecision?: { readonly taskId: string; readonly timestamp?: number }
  /** The agent record from CRUD events (rooms, forge). */
  readonly details?: Readonly<Record<string, unknown>>
}

export type TaskStatus = 'routed' | 'running' | 'completed' | 'failed'
export interface TaskView {
  readonly id: string
  readonly status: TaskStatus
  /** 0–100. */
  readonly progress: number
  readonly agent?: string
  readonly name?: string
  readonly description?: string
  readonly message?: string
  readonly step?: string
  readonly result?: unknown
  readonly error?: { readonly message: string; readonly code?: string; readonly details?: unknown }
  readonly durationMs?: number
}

/** The request statuses agentwire derives; a foreign backend's own word (`queued`, `not_found`, …) passes through as it came. */
export type RequestStatus = Open<'running' | 'waiting' | 'completed' | 'failed' | 'cancelled'>
export interface StepView {
  readonly step: number
  readonly agent: string
  readonly status: StepStatusValue
  readonly stepId?: string
  readonly stepOrder?: number
  readonly tool?: string
  readonly result?: unknown
  readonly data?: Readonly<Record<string, unknown>>
}
export interface QuestionView {
  readonly questionId: string
  readonly question: string
  readonly options?: readonly string[]
  readonly agent?: string
  readonly answered: boolean
  readonly answer?: unknown
}
export interface RequestView {
  readonly id: string
  readonly status: RequestStatus
  readonly query?: string
  readonly context?: Readonly<Record<string, unknown>>
  /** Steps in step order; a step's later progress replaces its earlier entry. */
  readonly steps: readonly StepView[]
  readonly questions: readonly QuestionView[]
  readonly completedAgents: readonly string[]
  readonly result?: unknown
  readonly error?: { readonly message: string; readonly agent?: string; readonly step?: number }
  /** Why the request was cancelled, when `request.cancelled` said. */
  readonly cancelReason?: string
  /** Streamed messages and tool calls, in the order they started; absent until the first. */
  readonly messages?: readonly MessageView[]
  /** The agent's shared state, as its last `request.state` said. */
  readonly state?: unknown
}

export interface SessionView {
  readonly id: string
  readonly status: string
  readonly progress?: number
  readonly message?: string
  readonly timestamp?: string | number
  /** Who is in the session now (webgui's `user_joined` / `user_left`), in order of arrival. */
  readonly users?: readonly string[]
}

export interface ChatView {
  readonly id: string
  readonly chat?: Readonly<Record<string, unknown>>
  readonly messages: number
  readonly lastMessageId?: string
  readonly participants: readonly string[]
}

export interface CollectionView {
  readonly id: string
  readonly metadata: Readonly<Record<string, unknown>>
}

export interface KnowledgeView {
  readonly nodes: number
  readonly edges: number
}

export interface MetricsView {
  readonly scope: MetricsScope
  readonly name?: string
  readonly values: Readonly<Record<string, number>>
  readonly timestamp?: string | number
}

export interface DashboardView {
  readonly agents?: Readonly<Record<string, number>>
  readonly tasks?: Readonly<Record<string, number>>
  readonly metrics?: Readonly<Record<string, number>>
  readonly timestamp?: string | number
}

export interface NotificationView {
  readonly level: NotificationLevel
  readonly message: string
  readonly title?: string
  readonly details?: unknown
  readonly sessionId?: string
  readonly userId?: string
  readonly timestamp?: string | number
}

export interface DecisionView {
  readonly taskId: string
  readonly agent: string
  readonly cost?: number
  readonly latency?: number
  readonly timestamp?: number
}
