import { AgentwireError, ErrorCode, type AgentEvent, type AgentStatusValue, type EventOf, type EventType } from 'agentwire/protocol'

/**
 * A simulated fleet for `agentwire demo`, examples and tests: a routing engine that assigns
 * tasks to agents by strengths, cost and latency; agents going available / busy / offline;
 * tasks progressing (some failing); requests that run steps, ask a question and wait for
 * feedback; chat, collection and knowledge activity; metrics and dashboard aggregates.
 *
 * Everything runs off one timer on an injected clock and one seeded random source, so a test
 * drives it tick by tick and gets the same story every time.
 */

/** Where events go: a gateway (or broker) with `publish`, or a plain function. */
export type SimulatorTarget = { publish(channel: string, event: AgentEvent): unknown } | ((channel: string, event: AgentEvent) => unknown)

/** The timers the simulator uses; a test injects a fake. */
export interface SimulatorClock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface SimulatedAgent {
  name: string
  strengths: string[]
  /** Relative cost of one task (the routing seed's `cost`). */
  cost: number
  /** Typical latency in milliseconds (the routing seed's `latency`). */
  latency: number
  /** Tasks the agent runs at once; `load` is running / capacity. @default 2 */
  capacity?: number
}

/** A command from a client, as the gateway's `start` / `cancel` / `feedback` frames carry it. */
export type SimulatorCommand =
  | { type: 'start'; requestId: string; query: string; context?: Record<string, unknown> }
  | { type: 'cancel'; requestId: string; reason?: string }
  | { type: 'feedback'; requestId: string; questionId: string; answer: unknown }

export type SimulatorCommandResult = { ok: true } | { ok: false; code: 'not_found' | 'conflict'; message: string }

/** The part of the gateway's command context the simulator uses (structural, so any gateway fits). */
export interface SimulatorCommandContext {
  defaultHandler(): Promise<unknown>
}

export interface SimulatorOptions {
  /** Seed of the random source: the same seed and clock give the same events. @default Date.now() */
  seed?: number
  /** @default the real clock (`globalThis.setTimeout`) */
  clock?: SimulatorClock
  /** One step of the simulation. @default 500 */
  tickMs?: number
  /** @default a fleet of six: planner, researcher, coder, reviewer, executor, analyst */
  agents?: SimulatedAgent[]
  /** Tasks running at once, at most. @default 4 */
  maxTasks?: number
  /** A new task is routed on a tick with this probability (when below `maxTasks`). @default 0.35 */
  taskRate?: number
  /** Share of tasks that fail part-way. @default 0.12 */
  failureRate?: number
  /** Start a simulated request this often while none is running; 0 never (requests then come only from `start` commands). @default 12000 */
  requestEveryMs?: number
  /** Answer an open question with its first option after this long without feedback; 0 waits for ever. @default 20000 */
  autoAnswerMs?: number
  /** `metrics.snapshot` on `metrics` this often. @default 3000 */
  metricsEveryMs?: number
  /** `dashboard.update` on `global` this often. @default 5000 */
  dashboardEveryMs?: number
  /** Random agents go offline for a while; off keeps the fleet stable. @default true */
  outages?: boolean
  /** Where a publish that failed (e.g. a rejected promise) is reported. @default console.error */
  onError?: (error: unknown) => void
}

export interface Simulator {
  /** Runs one tick now (tests drive the simulation with this or with the clock). */
  tick(): void
  /** Handles a client command for a simulated request. */
  handleCommand(command: SimulatorCommand): SimulatorCommandResult
  /**
   * The gateway's `onCommand`, answered by the simulated backend:
   * `createGateway({ onCommand: (command, context) => simulator.onCommand(command, context) })`.
   * A refused command rejects with an `AgentwireError` (`not_found`, `conflict`), which the
   * gateway sends back as a typed error reply; `ack` keeps the gateway's default.
   */
  onCommand(command: SimulatorCommand | { type: 'ack' }, context: SimulatorCommandContext): Promise<unknown>
  /** Stops the simulation; no timer is left. Idempotent. */
  stop(): void
  readonly running: boolean
}

export const DEFAULT_FLEET: readonly SimulatedAgent[] = [
  { name: 'planner', strengths: ['planning', 'decomposition'], cost: 0.4, latency: 120 },
  { name: 'researcher', strengths: ['research', 'search', 'summarize'], cost: 0.3, latency: 300 },
  { name: 'coder', strengths: ['code', 'refactor', 'debug'], cost: 0.8, latency: 450, capacity: 3 },
  { name: 'reviewer', strengths: ['review', 'testing'], cost: 0.5, latency: 200 },
  { name: 'executor', strengths: ['execute', 'deploy', 'shell'], cost: 0.2, latency: 80, capacity: 3 },
  { name: 'analyst', strengths: ['data', 'metrics', 'research'], cost: 0.6, latency: 250 },
]

const TASK_KINDS: ReadonlyArray<{ skill: string; names: string[]; steps: string[] }> = [
  { skill: 'planning', names: ['Plan the release', 'Break down the migration'], steps: ['read brief', 'draft plan', 'order steps'] },
  { skill: 'research', names: ['Survey vector stores', 'Find rate-limit docs'], steps: ['search', 'read sources', 'summarize'] },
  { skill: 'code', names: ['Fix flaky test', 'Add retry to uploader', 'Refactor parser'], steps: ['read code', 'edit', 'compile', 'run tests'] },
  { skill: 'review', names: ['Review pull request', 'Audit dependencies'], steps: ['diff', 'comment', 'approve'] },
  { skill: 'execute', names: ['Deploy to staging', 'Run nightly job'], steps: ['prepare', 'run', 'verify'] },
  { skill: 'data', names: ['Aggregate usage', 'Chart latency'], steps: ['query', 'aggregate', 'plot'] },
]

const QUERIES = ['Summarize yesterday’s incidents', 'Draft a migration plan for the billing service', 'Why did the nightly build fail?']
const REQUEST_PLAN: ReadonlyArray<{ agent: string; tool: string }> = [
  { agent: 'planner', tool: 'plan' },
  { agent: 'researcher', tool: 'search' },
  { agent: 'coder', tool: 'write' },
  { agent: 'reviewer', tool: 'review' },
]
/** The step after which a request asks its question. */
const QUESTION_AFTER_STEP = 2

/** mulberry32: tiny, fast and good enough to make a demo look alive, deterministic per seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const realClock: SimulatorClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = globalThis.setTimeout(fn, ms)
    // A demo publisher must not keep a process alive on its own.
    ;(handle as { unref?: () => void }).unref?.()
    return handle
  },
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
}

interface AgentRun { spec: SimulatedAgent; status: AgentStatusValue; running: number; offlineUntil: number }
interface TaskRun { id: string; agent: AgentRun; steps: string[]; progress: number; failAt: number | undefined; startedAt: number }
interface RequestRun {
  id: string
  step: number
  /** Ticks left in the current step. */
  ticks: number
  question: { id: string; askedAt: number; options: string[] } | undefined
  asked: boolean
}

export function startSimulator(target: SimulatorTarget, options: SimulatorOptions = {}): Simulator {
  const clock = options.clock ?? realClock
  const random = seededRandom(options.seed ?? Date.now())
  const tickMs = options.tickMs ?? 500
  const maxTasks = options.maxTasks ?? 4
  const taskRate = options.taskRate ?? 0.35
  const failureRate = options.failureRate ?? 0.12
  const requestEveryMs = options.requestEveryMs ?? 12_000
  const autoAnswerMs = options.autoAnswerMs ?? 20_000
  const metricsEveryMs = options.metricsEveryMs ?? 3000
  const dashboardEveryMs = options.dashboardEveryMs ?? 5000
  const outages = options.outages ?? true
  const onError = options.onError ?? ((error: unknown) => console.error('agentwire simulator: publish failed:', error))
  const send = typeof target === 'function' ? target : target.publish.bind(target)

  const agents = new Map<string, AgentRun>()
  for (const spec of options.agents ?? DEFAULT_FLEET) agents.set(spec.name, { spec, status: 'available', running: 0, offlineUntil: 0 })
  const tasks = new Map<string, TaskRun>()
  const requests = new Map<string, RequestRun>()
  const chats = ['general', 'ops']
  const counters = { tasks: 0, requests: 0, questions: 0, messages: 0, nodes: 0, edges: 0, completed: 0, failed: 0, published: 0 }
  const started = clock.now()
  let lastMetrics = started
  let lastDashboard = started
  let lastRequest = started - requestEveryMs + 2 * tickMs
  let publishedAtLastMetrics = 0
  let timer: unknown
  let running = true

  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1))

  function publish<T extends EventType>(channel: string, type: T, payload: EventOf<T>['payload']): void {
    counters.published++
    try {
      const out = send(channel, { type, payload } as AgentEvent)
      if (out && typeof (out as Promise<unknown>).then === 'function') (out as Promise<unknown>).then(undefined, onError)
    } catch (error) {
      onError(error)
    }
  }

  function setAgent(agent: AgentRun, status: AgentStatusValue): void {
    agent.status = status
    const load = Math.round((agent.running / (agent.spec.capacity ?? 2)) * 100) / 100
    publish(`agent:${agent.spec.name}`, 'agent.status', { name: agent.spec.name, status, load, timestamp: clock.now() })
  }

  /** The routing engine: the best free agent for a skill, trading strengths against cost, latency and load. */
  function route(skill: string): AgentRun | undefined {
    let best: AgentRun | undefined
    let bestScore = -Infinity
    for (const agent of agents.values()) {
      const capacity = agent.spec.capacity ?? 2
      if (agent.status === 'offline' || agent.running >= capacity) continue
      const fit = agent.spec.strengths.includes(skill) ? 1 : 0.15
      const score = (fit * (1 - agent.running / capacity)) / (1 + agent.spec.cost) / (1 + agent.spec.latency / 1000)
      if (score > bestScore) (best = agent), (bestScore = score)
    }
    return best
  }

  function startTask(): void {
    const kind = pick(TASK_KINDS)
    const agent = route(kind.skill)
    if (!agent) return
    const id = `task-${++counters.tasks}`
    const now = clock.now()
    const { name, strengths, cost, latency } = agent.spec
    publish(`task:${id}`, 'routing.decision', { taskId: id, agent: { name, strengths, cost, latency }, timestamp: now })
    publish(`task:${id}`, 'task.started', { taskId: id, name: pick(kind.names), agent: name, description: `${kind.skill} task`, timestamp: now })
    agent.running++
    setAgent(agent, 'busy')
    const failAt = random() < failureRate ? between(20, 80) : undefined
    tasks.set(id, { id, agent, steps: kind.steps, progress: 0, failAt, startedAt: now })
  }

  function finishTask(task: TaskRun, failed: boolean): void {
    const now = clock.now()
    tasks.delete(task.id)
    if (failed) {
      counters.failed++
      const message = `${task.agent.spec.name} gave up at ${task.progress}%: tool timed out`
      publish(`task:${task.id}`, 'task.failed', { taskId: task.id, error: { message, code: 'tool_timeout' }, timestamp: now })
      publish('global', 'system.notification', { level: 'warning', title: `Task ${task.id} failed`, message, timestamp: now })
    } else {
      counters.completed++
      publish(`task:${task.id}`, 'task.completed', { taskId: task.id, result: { ok: true }, durationMs: now - task.startedAt, timestamp: now })
    }
    task.agent.running--
    setAgent(task.agent, task.agent.running > 0 ? 'busy' : 'available')
  }

  function advanceTask(task: TaskRun): void {
    if (random() < 0.35) return
    const next = Math.min(100, task.progress + between(8, 30))
    if (task.failAt !== undefined && next >= task.failAt) {
      task.progress = task.failAt
      return finishTask(task, true)
    }
    task.progress = next
    const step = task.steps[Math.min(task.steps.length - 1, Math.floor((next / 100) * task.steps.length))] ?? 'work'
    publish(`task:${task.id}`, 'task.progress', { taskId: task.id, progress: next, step, agent: task.agent.spec.name, message: `${step}…`, timestamp: clock.now() })
    if (next >= 100) finishTask(task, false)
  }

  function outage(now: number): void {
    for (const agent of agents.values()) {
      if (agent.status === 'offline' && now >= agent.offlineUntil) setAgent(agent, 'available')
    }
    if (!outages || random() > 0.02) return
    const idle = [...agents.values()].filter((a) => a.status === 'available' && a.running === 0)
    if (idle.length === 0) return
    const agent = pick(idle)
    agent.offlineUntil = now + between(4000, 12_000)
    setAgent(agent, 'offline')
  }

  function startRequest(id: string, query: string, context?: Record<string, unknown>): void {
    requests.set(id, { id, step: 0, ticks: between(1, 3), question: undefined, asked: false })
    publish(`request:${id}`, 'request.started', context ? { requestId: id, query, context, timestamp: clock.now() } : { requestId: id, query, timestamp: clock.now() })
    const first = REQUEST_PLAN[0]
    if (first) publish(`request:${id}`, 'step.progress', { requestId: id, agent: first.agent, step: 1, status: 'running', stepId: `${id}-s1`, stepOrder: 1, tool: first.tool })
  }

  function answer(run: RequestRun, questionId: string, value: unknown, userId?: string): void {
    run.question = undefined
    publish(`request:${run.id}`, 'request.feedback', userId ? { requestId: run.id, questionId, answer: value, userId } : { requestId: run.id, questionId, answer: value })
    run.ticks = between(1, 2)
  }

  function advanceRequest(run: RequestRun, now: number): void {
    if (run.question) {
      if (autoAnswerMs > 0 && now - run.question.askedAt >= autoAnswerMs) answer(run, run.question.id, run.question.options[0], 'simulator')
      return
    }
    if (--run.ticks > 0) return
    const current = REQUEST_PLAN[run.step]
    if (!current) return
    const n = run.step + 1
    publish(`request:${run.id}`, 'step.progress', { requestId: run.id, agent: current.agent, step: n, status: 'completed', stepId: `${run.id}-s${n}`, stepOrder: n, tool: current.tool, result: `${current.tool} done` })
    publish(`request:${run.id}`, 'agent.completed', { requestId: run.id, agent: current.agent, data: { step: n } })
    run.step++
    if (run.step === QUESTION_AFTER_STEP && !run.asked) {
      run.asked = true
      const options = ['Keep it short', 'Go into detail']
      const questionId = `q-${++counters.questions}`
      run.question = { id: questionId, askedAt: now, options }
      publish(`request:${run.id}`, 'request.question', { requestId: run.id, questionId, question: 'How detailed should the answer be?', options, agent: current.agent })
      return
    }
    const next = REQUEST_PLAN[run.step]
    if (!next) {
      requests.delete(run.id)
      lastRequest = now
      publish(`request:${run.id}`, 'request.completed', { requestId: run.id, result: { summary: `Done in ${REQUEST_PLAN.length} steps`, steps: REQUEST_PLAN.length } })
      return
    }
    run.ticks = between(1, 3)
    publish(`request:${run.id}`, 'step.progress', { requestId: run.id, agent: next.agent, step: run.step + 1, status: 'running', stepId: `${run.id}-s${run.step + 1}`, stepOrder: run.step + 1, tool: next.tool })
  }

  function chatter(now: number): void {
    const roll = random()
    if (roll < 0.12) {
      const chatId = pick(chats)
      publish(`chat:${chatId}`, 'chat.message.created', { chatId, messageId: `m-${++counters.messages}`, userId: pick([...agents.keys()]), timestamp: now })
    } else if (roll < 0.14) {
      publish('collection:runbooks', 'collection.updated', { collectionId: 'runbooks', metadata: { documents: 10 + counters.tasks }, timestamp: now })
    }
    const k = random()
    if (k < 0.15 || counters.nodes < 2) {
      const nodeId = `n-${++counters.nodes}`
      publish('knowledge', 'knowledge.node.added', { nodeId, label: pick(['retry policy', 'staging cluster', 'billing API', 'incident 42', 'rate limit']), kind: pick(['concept', 'service', 'document']) })
    } else if (k < 0.28) {
      const source = `n-${between(1, counters.nodes)}`
      const target = `n-${between(1, counters.nodes)}`
      if (source !== target) publish('knowledge', 'knowledge.edge.added', { edgeId: `e-${++counters.edges}`, source, target, relation: pick(['depends_on', 'mentions', 'owned_by']) })
    }
  }

  function aggregates(now: number): void {
    if (now - lastMetrics >= metricsEveryMs) {
      const all = [...agents.values()]
      const load = all.reduce((sum, a) => sum + a.running / (a.spec.capacity ?? 2), 0) / Math.max(1, all.length)
      const perSecond = ((counters.published - publishedAtLastMetrics) * 1000) / Math.max(1, now - lastMetrics)
      publishedAtLastMetrics = counters.published
      lastMetrics = now
      publish('metrics', 'metrics.snapshot', {
        scope: 'system',
        values: {
          activeTasks: tasks.size,
          completedTasks: counters.completed,
          failedTasks: counters.failed,
          agentsOnline: all.filter((a) => a.status !== 'offline').length,
          avgLoad: Math.round(load * 100) / 100,
          eventsPerSecond: Math.round(perSecond * 10) / 10,
        },
        timestamp: now,
      })
      publish('knowledge', 'knowledge.updated', { nodes: counters.nodes, edges: counters.edges })
    }
    if (now - lastDashboard >= dashboardEveryMs) {
      lastDashboard = now
      const byStatus = { available: 0, busy: 0, offline: 0 }
      for (const a of agents.values()) byStatus[a.status]++
      publish('global', 'dashboard.update', {
        agents: byStatus,
        tasks: { running: tasks.size, completed: counters.completed, failed: counters.failed },
        metrics: { requests: counters.requests, knowledgeNodes: counters.nodes },
        timestamp: now,
      })
      if (random() < 0.3) publish('global', 'system.notification', { level: 'info', message: `${counters.completed} tasks completed so far`, timestamp: now })
    }
  }

  function tick(): void {
    if (!running) return
    const now = clock.now()
    outage(now)
    for (const task of [...tasks.values()]) advanceTask(task)
    if (tasks.size < maxTasks && random() < taskRate) startTask()
    for (const run of [...requests.values()]) advanceRequest(run, now)
    if (requestEveryMs > 0 && requests.size === 0 && now - lastRequest >= requestEveryMs) {
      lastRequest = now
      counters.requests++
      startRequest(`req-${counters.requests}`, pick(QUERIES))
    }
    chatter(now)
    aggregates(now)
  }

  function loop(): void {
    tick()
    if (running) timer = clock.setTimeout(loop, tickMs)
  }

  // The opening scene: every agent's status, the chats and collections that activity refers to.
  for (const agent of agents.values()) setAgent(agent, 'available')
  for (const chatId of chats) publish(`chat:${chatId}`, 'chat.created', { chatId, chat: { title: `#${chatId}` }, timestamp: started })
  for (const collectionId of ['docs', 'runbooks']) publish(`collection:${collectionId}`, 'collection.created', { collectionId, metadata: { documents: 10 }, timestamp: started })
  timer = clock.setTimeout(loop, tickMs)

  const simulator: Simulator = {
    tick,
    get running() {
      return running
    },
    async onCommand(command, context) {
      if (command.type === 'ack') return context.defaultHandler()
      const result = simulator.handleCommand(command)
      if (!result.ok) throw new AgentwireError(result.code === 'conflict' ? ErrorCode.Conflict : ErrorCode.NotFound, result.message)
      return undefined
    },
    handleCommand(command) {
      const run = requests.get(command.requestId)
      if (command.type === 'start') {
        if (run) return { ok: false, code: 'conflict', message: `request "${command.requestId}" is already running` }
        counters.requests++
        startRequest(command.requestId, command.query, command.context)
        return { ok: true }
      }
      if (!run) return { ok: false, code: 'not_found', message: `no running request "${command.requestId}"` }
      if (command.type === 'cancel') {
        requests.delete(run.id)
        publish(`request:${run.id}`, 'request.cancelled', command.reason ? { requestId: run.id, reason: command.reason } : { requestId: run.id })
        return { ok: true }
      }
      if (run.question?.id !== command.questionId) {
        return { ok: false, code: 'not_found', message: `request "${run.id}" has no open question "${command.questionId}"` }
      }
      answer(run, command.questionId, command.answer)
      return { ok: true }
    },
    stop() {
      if (!running) return
      running = false
      clock.clearTimeout(timer)
      timer = undefined
    },
  }
  return simulator
}
