import type { PayloadOf } from '../events'
import { getKey } from '../records'
import type { QuestionView, RequestStatus, RequestView, StepView } from '../state'
import type { Mutable, StateWriter } from '../writer'
import { NONE, addOnce, create, patch, upsert, type EntityReducer, type Patch } from './entity'

/**
 * `state.requests`: a run with its steps, questions and completed agents. Any request event
 * creates it; the first `request.completed` / `.error` / `.cancelled` is final.
 */
export const requests = {
  'request.started': (w, p) => upsert(w, 'requests', p.requestId, getKey(w.state.requests, p.requestId), newRequest, { query: p.query, context: p.context }),
  'step.progress': stepProgress,
  'agent.completed': (w, p) => addOnce(w, 'requests', p.requestId, newRequest, 'completedAgents', p.agent),
  'request.question': (w, p) => {
    const fresh = { questionId: p.questionId, question: p.question, answered: false }
    questionEvent(w, p.requestId, fresh, { question: p.question, options: p.options, agent: p.agent })
  },
  'request.feedback': (w, p) => questionEvent(w, p.requestId, { questionId: p.questionId, question: '', answered: true }, { answered: true, answer: p.answer }),
  'request.error': (w, p) => {
    // Without a `requestId` it belongs to no request: `notifications` takes it.
    if (p.requestId === undefined) return
    const error: Mutable<NonNullable<RequestView['error']>> = { message: p.message }
    if (p.agent !== undefined) error.agent = p.agent
    if (p.step !== undefined) error.step = p.step
    finish(w, p.requestId, 'failed', { error })
  },
  'request.completed': (w, p) => finish(w, p.requestId, 'completed', { result: p.result }),
  'request.cancelled': (w, p) => finish(w, p.requestId, 'cancelled', { cancelReason: p.reason }),
} satisfies EntityReducer

/** Whether a request has reached a state no later event may change. */
export function isTerminalRequest(status: RequestStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled'
}

export function newRequest(id: string): Mutable<RequestView> {
  return { id, status: 'running', steps: NONE, questions: NONE, completedAgents: NONE }
}

function finish(w: StateWriter, id: string, status: RequestStatus, fields: Patch<RequestView>): void {
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
