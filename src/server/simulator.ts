import { AgentwireError, ErrorCode, type AgentEvent } from 'agentwire/protocol'
import { createActivity } from './simulator/activity'
import { createAggregates } from './simulator/aggregates'
import { DEFAULT_FLEET, createFleet, type SimulatedAgent } from './simulator/fleet'
import { createRequests, type SimulatorCommand, type SimulatorCommandResult } from './simulator/requests'
import { createStage } from './simulator/stage'

export { DEFAULT_FLEET, type SimulatedAgent } from './simulator/fleet'
export type { SimulatorCommand, SimulatorCommandResult } from './simulator/requests'
export { seededRandom } from './simulator/stage'

/**
 * A simulated fleet for `agentwire demo`, examples and tests: a routing engine that assigns
 * tasks to agents by strengths, cost and latency; agents going available / busy / offline;
 * tasks progressing (some failing); requests that run steps, ask a question and wait for
 * feedback; chat, collection and knowledge activity; metrics and dashboard aggregates.
 *
 * Everything runs off one timer on an injected clock and one seeded random source, so a test
 * drives it tick by tick and gets the same story every time. This file is the shell (options,
 * the timer, commands); each part of the story has a file in `./simulator/`: the fleet (agents,
 * routing, tasks), requests, background activity and the aggregates.
 */

/** Where events go: a gateway (or broker) with `publish`, or a plain function. */
export type SimulatorTarget = { publish(channel: string, event: AgentEvent): unknown } | ((channel: string, event: AgentEvent) => unknown)

/** The timers the simulator uses; a test injects a fake. */
export interface SimulatorClock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

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
  /**
   * Part of every id the run makes (`task-<run>-3`, `req-<run>-1`, `n-<run>-7`), so that two
   * runs publishing into one broker (a `demo --redis` restarted on the same Redis) never share
   * an id. @default four base-36 characters of the start time
   */
  runId?: string
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
  onCommand(command: SimulatorCommand | { type: 'ack' } | { type: 'command' }, context: SimulatorCommandContext): Promise<unknown>
  /** Stops the simulation; no timer is left. Idempotent. */
  stop(): void
  /**
   * Stops, after ending what runs: each running task fails and each open request is cancelled
   * with `reason`, so a broker that outlives the run (Redis) shows nothing as running for ever
   * to the next one. Resolves once those events are published.
   * @default reason 'the simulation stopped'
   */
  wrapUp(reason?: string): Promise<void>
  readonly running: boolean
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

export function startSimulator(target: SimulatorTarget, options: SimulatorOptions = {}): Simulator {
  const clock = options.clock ?? realClock
  const tickMs = options.tickMs ?? 500
  const onError = options.onError ?? ((error: unknown) => console.error('agentwire simulator: publish failed:', error))
  const send = typeof target === 'function' ? target : target.publish.bind(target)
  const started = clock.now()
  const runId = options.runId ?? (started % 36 ** 4).toString(36).padStart(4, '0')
  const stage = createStage(send, clock, options.seed ?? Date.now(), onError, runId)
  const fleet = createFleet(stage, {
    agents: options.agents ?? DEFAULT_FLEET,
    maxTasks: options.maxTasks ?? 4,
    taskRate: options.taskRate ?? 0.35,
    failureRate: options.failureRate ?? 0.12,
    outages: options.outages ?? true,
  })
  const requests = createRequests(stage, { requestEveryMs: options.requestEveryMs ?? 12_000, autoAnswerMs: options.autoAnswerMs ?? 20_000, tickMs, started })
  const activity = createActivity(stage, fleet)
  const aggregates = createAggregates(stage, fleet, { metricsEveryMs: options.metricsEveryMs ?? 3000, dashboardEveryMs: options.dashboardEveryMs ?? 5000, started })
  let timer: unknown
  let running = true

  function tick(): void {
    if (!running) return
    const now = clock.now()
    fleet.tick(now)
    requests.tick(now)
    activity.tick(now)
    aggregates.tick(now)
  }

  function loop(): void {
    tick()
    if (running) timer = clock.setTimeout(loop, tickMs)
  }

  // The opening scene: every agent's status, the chats and collections that activity refers to.
  fleet.open()
  activity.open(started)
  timer = clock.setTimeout(loop, tickMs)

  const simulator: Simulator = {
    tick,
    get running() {
      return running
    },
    async onCommand(command, context) {
      // Acks, and the application's own commands, are the gateway's: its default answers them.
      if (command.type === 'ack' || command.type === 'command') return context.defaultHandler()
      const result = simulator.handleCommand(command)
      if (!result.ok) throw new AgentwireError(result.code === 'conflict' ? ErrorCode.Conflict : ErrorCode.NotFound, result.message)
      return undefined
    },
    handleCommand: (command) => requests.handleCommand(command),
    stop() {
      if (!running) return
      running = false
      clock.clearTimeout(timer)
      timer = undefined
    },
    wrapUp(reason = 'the simulation stopped') {
      if (running) {
        simulator.stop()
        fleet.stopAll(reason)
        requests.stopAll(reason)
      }
      return stage.settled()
    },
  }
  return simulator
}
