import type { Stage } from './stage'

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

/** The statuses the simulator gives its agents (the routing seed's). */
export type SimulatedStatus = 'available' | 'busy' | 'offline'

export interface AgentRun { spec: SimulatedAgent; status: SimulatedStatus; running: number; offlineUntil: number }
interface TaskRun { id: string; agent: AgentRun; steps: string[]; progress: number; failAt: number | undefined; startedAt: number }

export interface FleetOptions {
  agents: readonly SimulatedAgent[]
  maxTasks: number
  taskRate: number
  failureRate: number
  outages: boolean
}

/**
 * The agents and their tasks: a routing engine that assigns tasks by strengths, cost, latency
 * and load; tasks that progress and sometimes fail; agents going available / busy / offline.
 */
export interface Fleet {
  readonly agents: ReadonlyMap<string, AgentRun>
  /** How many tasks are running. */
  readonly runningTasks: number
  /** Announces every agent as available (the opening scene). */
  open(): void
  /** One step: outages end or begin, tasks advance, and a new task may be routed. */
  tick(now: number): void
  /** Ends every running task as failed with `reason` (the simulation is stopping). */
  stopAll(reason: string): void
}

export function createFleet(stage: Stage, options: FleetOptions): Fleet {
  const { publish, pick, between, random, counters } = stage
  const agents = new Map<string, AgentRun>()
  for (const spec of options.agents) agents.set(spec.name, { spec, status: 'available', running: 0, offlineUntil: 0 })
  const tasks = new Map<string, TaskRun>()

  function setAgent(agent: AgentRun, status: SimulatedStatus): void {
    agent.status = status
    const load = Math.round((agent.running / (agent.spec.capacity ?? 2)) * 100) / 100
    publish(`agent:${agent.spec.name}`, 'agent.status', { name: agent.spec.name, status, load, timestamp: stage.now() })
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
    const id = `task-${stage.run}-${++counters.tasks}`
    const now = stage.now()
    const { name, strengths, cost, latency } = agent.spec
    publish(`task:${id}`, 'routing.decision', { taskId: id, agent: { name, strengths, cost, latency }, timestamp: now })
    publish(`task:${id}`, 'task.started', { taskId: id, name: pick(kind.names), agent: name, description: `${kind.skill} task`, timestamp: now })
    agent.running++
    setAgent(agent, 'busy')
    const failAt = random() < options.failureRate ? between(20, 80) : undefined
    tasks.set(id, { id, agent, steps: kind.steps, progress: 0, failAt, startedAt: now })
  }

  function finishTask(task: TaskRun, failed: boolean): void {
    const now = stage.now()
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
    // It gives up where it stands: the bar shows the last progress published, and the message
    // must say the same figure (setting progress to failAt first made them disagree).
    if (task.failAt !== undefined && next >= task.failAt) return finishTask(task, true)
    task.progress = next
    const step = task.steps[Math.min(task.steps.length - 1, Math.floor((next / 100) * task.steps.length))] ?? 'work'
    publish(`task:${task.id}`, 'task.progress', { taskId: task.id, progress: next, step, agent: task.agent.spec.name, message: `${step}…`, timestamp: stage.now() })
    if (next >= 100) finishTask(task, false)
  }

  function outage(now: number): void {
    for (const agent of agents.values()) {
      if (agent.status === 'offline' && now >= agent.offlineUntil) setAgent(agent, 'available')
    }
    if (!options.outages || random() > 0.02) return
    const idle = [...agents.values()].filter((a) => a.status === 'available' && a.running === 0)
    if (idle.length === 0) return
    const agent = pick(idle)
    agent.offlineUntil = now + between(4000, 12_000)
    setAgent(agent, 'offline')
  }

  return {
    agents,
    get runningTasks() {
      return tasks.size
    },
    open() {
      for (const agent of agents.values()) setAgent(agent, 'available')
    },
    stopAll(reason) {
      for (const task of [...tasks.values()]) {
        tasks.delete(task.id)
        publish(`task:${task.id}`, 'task.failed', { taskId: task.id, error: { message: `${reason} at ${task.progress}%`, code: 'stopped' }, timestamp: stage.now() })
        task.agent.running--
      }
      for (const agent of agents.values()) if (agent.status === 'busy' && agent.running === 0) setAgent(agent, 'available')
    },
    tick(now) {
      outage(now)
      for (const task of [...tasks.values()]) advanceTask(task)
      if (tasks.size < options.maxTasks && random() < options.taskRate) startTask()
    },
  }
}
