import type { Stage } from './stage'

/** A command from a client, as the gateway's `start` / `cancel` / `feedback` frames carry it. */
export type SimulatorCommand =
  | { type: 'start'; requestId: string; query: string; context?: Record<string, unknown> }
  | { type: 'cancel'; requestId: string; reason?: string }
  | { type: 'feedback'; requestId: string; questionId: string; answer: unknown }

export type SimulatorCommandResult = { ok: true } | { ok: false; code: 'not_found' | 'conflict'; message: string }

const QUERIES = ['Summarize yesterday’s incidents', 'Draft a migration plan for the billing service', 'Why did the nightly build fail?']
const REQUEST_PLAN: ReadonlyArray<{ agent: string; tool: string }> = [
  { agent: 'planner', tool: 'plan' },
  { agent: 'researcher', tool: 'search' },
  { agent: 'coder', tool: 'write' },
  { agent: 'reviewer', tool: 'review' },
]
/** The request's answer, in the pieces the last step streams. */
function answerOf(query: string): string[] {
  const words = `Here is what the fleet found for “${query}”: the plan, the sources and a reviewed draft are ready.`.split(' ')
  const pieces: string[] = []
  for (let i = 0; i < words.length; i += 3) pieces.push(`${words.slice(i, i + 3).join(' ')}${i + 3 < words.length ? ' ' : ''}`)
  return pieces
}

/** The step after which a request asks its question. */
const QUESTION_AFTER_STEP = 2

interface RequestRun {
  id: string
  query: string
  /** Pieces of the answer streamed so far (the last step streams it, one piece per tick). */
  streamed: number
  step: number
  /** Ticks left in the current step. */
  ticks: number
  question: { id: string; askedAt: number; options: string[] } | undefined
  asked: boolean
}

export interface RequestsOptions {
  requestEveryMs: number
  autoAnswerMs: number
  tickMs: number
  /** When the simulation started: the first request comes two ticks after `requestEveryMs` would allow. */
  started: number
}

/**
 * Simulated requests: each runs the plan's steps, asks one question after the second and
 * waits for feedback (or answers itself after `autoAnswerMs`). Started on a schedule while
 * none runs, or by a client's `start`; steered by `cancel` and `feedback`.
 */
export interface Requests {
  /** One step: every request advances, and a new one starts when it is time. */
  tick(now: number): void
  handleCommand(command: SimulatorCommand): SimulatorCommandResult
  /** Cancels every running request with `reason` (the simulation is stopping). */
  stopAll(reason: string): void
}

export function createRequests(stage: Stage, options: RequestsOptions): Requests {
  const { publish, pick, between, counters } = stage
  const { requestEveryMs, autoAnswerMs } = options
  const requests = new Map<string, RequestRun>()
  let lastRequest = options.started - requestEveryMs + 2 * options.tickMs

  function startRequest(id: string, query: string, context?: Record<string, unknown>): void {
    requests.set(id, { id, query, streamed: 0, step: 0, ticks: between(1, 3), question: undefined, asked: false })
    publish(`request:${id}`, 'request.started', context ? { requestId: id, query, context, timestamp: stage.now() } : { requestId: id, query, timestamp: stage.now() })
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
    if (--run.ticks > 0) {
      if (run.step === REQUEST_PLAN.length - 1) stream(run, 1)
      return
    }
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
      stream(run, Infinity)
      publish(`request:${run.id}`, 'message.ended', { requestId: run.id, messageId: `${run.id}-answer` })
      requests.delete(run.id)
      lastRequest = now
      publish(`request:${run.id}`, 'request.completed', { requestId: run.id, result: { summary: `Done in ${REQUEST_PLAN.length} steps`, steps: REQUEST_PLAN.length } })
      return
    }
    run.ticks = between(1, 3)
    publish(`request:${run.id}`, 'step.progress', { requestId: run.id, agent: next.agent, step: run.step + 1, status: 'running', stepId: `${run.id}-s${run.step + 1}`, stepOrder: run.step + 1, tool: next.tool })
  }

  /** Streams up to `count` more pieces of the request's answer (no randomness: the fleet's story stays the same). */
  function stream(run: RequestRun, count: number): void {
    const pieces = answerOf(run.query)
    const messageId = `${run.id}-answer`
    if (run.streamed === 0) publish(`request:${run.id}`, 'message.started', { requestId: run.id, messageId, role: 'assistant', agent: 'reviewer' })
    for (let i = 0; i < count && run.streamed < pieces.length; i++) publish(`request:${run.id}`, 'message.delta', { requestId: run.id, messageId, delta: pieces[run.streamed++] as string })
  }

  return {
    tick(now) {
      for (const run of [...requests.values()]) advanceRequest(run, now)
      if (requestEveryMs > 0 && requests.size === 0 && now - lastRequest >= requestEveryMs) {
        lastRequest = now
        counters.requests++
        startRequest(`req-${stage.run}-${counters.requests}`, pick(QUERIES))
      }
    },
    stopAll(reason) {
      for (const run of [...requests.values()]) {
        requests.delete(run.id)
        publish(`request:${run.id}`, 'request.cancelled', { requestId: run.id, reason })
      }
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
  }
}
