import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import { ErrorCode } from '../codes'
import type { EventType } from '../events'
import type { ClientFrame, StateMessage } from '../frames'
import { parseJson } from '../json'
import { parseState } from '../snapshot'
import type { QuestionView, RequestStatus, RequestView, StepView } from '../state'
import type { Mutable } from '../writer'
import { both, defined, errorFrame, eventOn, idOf, isObj, message, num, readSocketIo, rec, strings, text, typed, unsupportedCommand, untyped, type Obj } from './shared'
import { isSocketIoAck, type SocketIoAck } from './socketio'

/**
 * The progress backend (seed `progress`): one request's progress, streamed over Socket.IO
 * (`[event, payload]` frames) or a native WebSocket (the same objects as JSON text; decode
 * takes both). Commands `start`, `cancel`, `feedback`; `rejoin` is answered with `state`.
 *
 * | server frame             | canonical                         | channel          |
 * | ------------------------ | --------------------------------- | ---------------- |
 * | `progress`               | `step.progress`                   | `request:{id}`   |
 * | `executor.step.progress` | `step.progress` (the broker form) | `request:{id}`   |
 * | `agent.completed`        | `agent.completed`                 | `request:{id}`   |
 * | `error`                  | `request.error`                   | `request:{id}`, or `global` without an id |
 * | `request.completed`      | `request.completed`               | `request:{id}`   |
 * | `state`                  | a `state` message, reason `rejoin`| `request:{id}`   |
 *
 * The seed's `progress` frame has no request id (the socket's room implies it): the codec
 * reads `requestId` from the frame, then from `data`, then from {@link ProgressCodecOptions.requestId}.
 */

export const PROGRESS_CAPABILITIES: Capabilities = Object.freeze({
  handshake: false,
  serverSubscribe: false,
  resume: false,
  positions: false,
  rejoin: true,
  commands: true,
  heartbeat: 'none',
})

export interface ProgressCodecOptions {
  /**
   * How commands travel: `socket.io` frames `['start', { ... }]`, or `text` (JSON, for a
   * native WebSocket server). Decoding accepts both whatever this says.
   * @default 'socket.io'
   */
  wire?: 'socket.io' | 'text'
  /**
   * The request this connection watches (the seed passes it in the Socket.IO handshake query),
   * used when a frame carries none.
   * @default undefined (frames must carry `requestId`)
   */
  requestId?: string
}

/** A request state answer, as much of it as could be read: what `progressStateMessage` builds the request from. */
export interface ProgressState {
  readonly requestId: string
  readonly status: RequestStatus
  readonly userQuery?: string
  readonly context?: Readonly<Record<string, unknown>>
  readonly steps?: readonly StepView[]
  readonly questions?: readonly QuestionView[]
  readonly completedAgents?: readonly string[]
  readonly result?: unknown
  readonly error?: { readonly message: string; readonly agent?: string; readonly step?: number }
}

/** The server frame names this codec maps (besides untyped ones, which reach `client.on('event')`). */
export const PROGRESS_SERVER_FRAMES = ['progress', 'executor.step.progress', 'agent.completed', 'error', 'request.completed', 'request.cancelled', 'state'] as const

/** Step and request words that ask the user something. */
const ASKING = /feedback|question|input|waiting/i

/**
 * A `state` message for the request: `state` is the part of the canonical state the
 * `request:{id}` channel owns, `{ requests: { [id]: RequestView } }`.
 */
export function progressStateMessage(s: ProgressState): StateMessage {
  const view: Mutable<RequestView> = {
    id: s.requestId,
    status: s.status,
    steps: [...(s.steps ?? [])].sort((a, b) => (a.stepOrder ?? a.step) - (b.stepOrder ?? b.step)),
    questions: [...(s.questions ?? [])],
    completedAgents: [...(s.completedAgents ?? [])],
  }
  if (s.userQuery !== undefined) view.query = s.userQuery
  if (s.context !== undefined) view.context = s.context
  if (s.result !== undefined) view.result = s.result
  if (s.error !== undefined) view.error = s.error
  // Keyed by id: null prototype, so an id such as "__proto__" is an ordinary key.
  const requests = Object.create(null) as Record<string, RequestView>
  requests[s.requestId] = view
  // No positions on this backend: epoch "none", seq 0.
  return { type: 'state', channel: `request:${s.requestId}`, epoch: 'none', seq: 0, reason: 'rejoin', requestId: s.requestId, state: { requests } }
}

/**
 * A step's number and id, however the backend identifies it: a number (or numeric text) is
 * the number; text such as `"step-3"` or a tool name is the id, with the number taken from
 * `stepOrder`, else from the id's trailing digits, else 0 (the id then tells steps apart).
 */
function stepOf(step: unknown, data: Obj | undefined, fallback?: number): { step: number; stepId?: string; stepOrder?: number } {
  const order = num(data?.stepOrder ?? data?.step_order ?? data?.order)
  const n = typeof step === 'boolean' ? undefined : num(step)
  const stepId = idOf(data?.stepId, data?.step_id, n === undefined ? step : undefined)
  const digits = stepId === undefined ? undefined : /(\d+)$/.exec(stepId)?.[1]
  const number = n ?? order ?? (digits === undefined ? undefined : Number(digits)) ?? fallback ?? 0
  return defined({ step: number, stepId, stepOrder: order })
}

/** An error as the request keeps it: from a string, an object with a message, or nothing. */
function errorOf(v: unknown, agent?: unknown, step?: number): RequestView['error'] {
  if (v === null || v === undefined) return undefined
  const o = rec(v)
  const text_ = message(o?.message) ?? message(v) ?? message(o?.code)
  if (text_ === undefined) return undefined
  return defined({ message: text_, agent: idOf(agent), step })
}

function questionOf(o: Obj | undefined): QuestionView | undefined {
  if (o === undefined) return undefined
  const questionId = idOf(o.questionId, o.question_id, o.id)
  if (questionId === undefined) return undefined
  return defined({ questionId, question: message(o.question) ?? message(o.text) ?? message(o.prompt) ?? '', options: strings(o.options), answered: false })
}

/** The steps of a `state` answer: an array, or an object keyed by step id. */
function stepsOf(v: unknown): StepView[] | undefined {
  const list = Array.isArray(v) ? v : isObj(v) ? Object.entries(v).map(([key, s]) => (isObj(s) ? { stepId: key, ...s } : undefined)) : undefined
  if (list === undefined) return undefined
  const steps: StepView[] = []
  list.forEach((item, i) => {
    const o = rec(item)
    if (o === undefined) return
    const data = rec(o.data)
    const at = stepOf(o.step ?? o.index ?? o.number, { ...data, ...o, stepId: o.stepId ?? o.step_id ?? o.id ?? (typeof o.step === 'string' && num(o.step) === undefined ? o.step : undefined) }, i + 1)
    steps.push(defined({
      ...at,
      agent: idOf(o.agent, o.agentName, data?.agent) ?? '',
      status: text(o.status) ?? text(data?.status) ?? 'unknown',
      tool: text(o.tool ?? o.name ?? data?.tool)?.slice(0, 256),
      result: o.result ?? data?.result ?? undefined,
      data,
    }))
  })
  return steps
}

/** A progress codec for one wire form, or one connection's request. `dialects.progress` is `createProgressCodec()`. */
export function createProgressCodec(options: ProgressCodecOptions = {}): Codec {
  const wire = options.wire ?? 'socket.io'
  // The request this connection last started or rejoined: frames that name none (the seed's
  // progress names none: the socket's room implies it) belong to it.
  let current = options.requestId
  const sent = new WeakMap<object, string>()
  const capabilities: Capabilities = wire === 'text' ? PROGRESS_CAPABILITIES : Object.freeze({ ...PROGRESS_CAPABILITIES, replies: true })

  function decodeProgress(name: string, body: unknown): DecodeResult {
    const o: Obj = isObj(body) ? body : {}
    const data: Obj | undefined = rec(o.data)
    // One Socket.IO event may carry every kind, told apart by `type` (the seed's `socket.emit('progress', event)`).
    const kind = (name === 'progress' || name === 'message') && typeof o.type === 'string' && o.type !== 'progress' ? o.type : name
    const requestId = idOf(o.requestId, o.request_id, data?.requestId) ?? current
    const on = <T extends EventType>(type: T, payload: Obj) =>
      eventOn(kind, type, payload, (p) => {
        const id = (p as { requestId?: string }).requestId
        return id === undefined ? 'global' : `request:${id}`
      }, body, 'progress')
    switch (kind) {
      case 'progress':
      case 'executor.step.progress': {
        const status = text(o.status) ?? text(data?.status) ?? 'running'
        const agent = idOf(o.agent, data?.agent) ?? ''
        const step = on('step.progress', {
          requestId,
          agent: agent === '' ? 'unknown' : agent,
          ...stepOf(o.step ?? data?.step, data),
          status,
          tool: text(data?.tool)?.slice(0, 256),
          result: data?.result ?? undefined,
          data,
        })
        const question = questionOf(data) ?? questionOf(rec(o.question))
        if (question === undefined || !(ASKING.test(status) || data?.question !== undefined)) return step
        return both(step, on('request.question', { requestId, questionId: question.questionId, question: question.question, options: question.options?.slice(0, 64), agent: idOf(o.agent) }))
      }
      case 'question':
      case 'feedback.request':
      case 'feedback_request':
      case 'request.question': {
        const question = questionOf(data) ?? questionOf(o)
        return on('request.question', { requestId, questionId: question?.questionId, question: question?.question, options: question?.options?.slice(0, 64), agent: idOf(o.agent) })
      }
      case 'agent.completed':
        return on('agent.completed', { requestId, agent: idOf(o.agent, data?.agent), data })
      case 'error': {
        const step = o.step === undefined || o.step === null ? undefined : stepOf(o.step, undefined).step
        // An error without an agent is the backend refusing a command (the seed's `error` is an agent's): reported, not the request's end.
        if (idOf(o.agent) === undefined) return errorFrame('progress', body)
        const error = errorOf(o.message ?? o.error, o.agent, step)
        return on('request.error', { requestId: idOf(o.requestId, o.request_id) ?? current, agent: idOf(o.agent), message: error?.message ?? 'error', step })
      }
      case 'request.completed': {
        const status = text(o.status)?.toLowerCase()
        if (status === 'cancelled' || status === 'canceled') return on('request.cancelled', { requestId, reason: message(rec(o.error)?.message ?? o.error ?? o.reason) })
        if (status === 'failed' || status === 'error') return on('request.error', { requestId, message: errorOf(o.error)?.message ?? 'the request failed' })
        // A request that completed without a result completed all the same.
        return on('request.completed', { requestId, result: o.result ?? null })
      }
      case 'request.cancelled':
      case 'cancelled':
        return on('request.cancelled', { requestId, reason: message(o.reason) })
      case 'state':
        return stateAnswer(o, data)
      default:
        return untyped('progress', kind, body, requestId === undefined ? 'global' : `request:${requestId}`)
    }
  }

  /** The answer to `rejoin`, read as far as it goes: an unreadable part is left out, never the whole answer. */
  function stateAnswer(o: Obj, data: Obj | undefined): DecodeResult {
    const s: Obj = isObj(o.state) ? o.state : data !== undefined && o.status === undefined ? data : o
    const requestId = idOf(s.requestId, s.request_id, o.requestId) ?? current
    if (requestId === undefined) return untyped('progress', 'state', o)
    const pending = questionOf(rec(s.pendingQuestion ?? s.pending_question ?? s.question))
    const state: ProgressState = defined({
      requestId,
      status: text(s.status) ?? 'unknown',
      userQuery: message(s.userQuery ?? s.query),
      context: rec(s.context),
      steps: stepsOf(s.steps),
      questions: pending === undefined ? undefined : [pending],
      completedAgents: Array.isArray(s.completedAgents) ? s.completedAgents.map((a) => idOf(a, rec(a)?.agent, rec(a)?.name)).filter((a): a is string => a !== undefined) : undefined,
      result: s.result ?? undefined,
      error: errorOf(s.error),
    })
    const message_ = progressStateMessage(state)
    const parsed = parseState(message_.state)
    if (!parsed.ok) return untyped('progress', 'state', o, `request:${requestId}`)
    return { ok: true, messages: [message_] }
  }

  function acknowledged(ack: SocketIoAck): DecodeResult {
    const id = sent.get(ack.frame)
    if (id === undefined) return { ok: true, messages: [] }
    sent.delete(ack.frame)
    const first = rec(ack.response?.[0])
    if (!ack.timedOut && first !== undefined && (first.accepted === false || first.ok === false || first.success === false)) {
      const why = message(rec(first.error)?.message) ?? message(first.error) ?? 'refused'
      return { ok: true, messages: [{ type: 'reply', id, ok: false, error: { code: text(rec(first.error)?.code)?.toLowerCase().slice(0, 64) ?? ErrorCode.BadRequest, message: why.slice(0, 1024) } }] }
    }
    return { ok: true, messages: [{ type: 'reply', id, ok: true }] }
  }

  const out = (command: { id: string }, name: string, body: Obj): EncodeResult => {
    if (wire === 'text') return { ok: true, frame: JSON.stringify(body) }
    const frame = [name, body]
    sent.set(frame, command.id)
    return { ok: true, frame }
  }
  return {
    name: 'progress',
    capabilities,
    decode(frame: unknown): DecodeResult {
      if (isSocketIoAck(frame)) return acknowledged(frame)
      if (typeof frame === 'string') {
        const parsed = parseJson(frame)
        if (!parsed.ok) return parsed
        const read = typed(parsed.value, 'progress')
        if (!read.ok) return read
        return decodeProgress(read.type, read.value)
      }
      const read = readSocketIo(frame, 'progress')
      if (!read.ok) return read
      return decodeProgress(read.name, read.args[0])
    },
    encode(command: ClientFrame): EncodeResult {
      switch (command.type) {
        case 'start':
          current = command.requestId
          return out(command, 'start', { type: 'start', requestId: command.requestId, userQuery: command.query, ...(command.context !== undefined && { context: command.context }) })
        case 'cancel':
          return out(command, 'cancel', { type: 'cancel', requestId: command.requestId })
        case 'feedback':
          return out(command, 'feedback', { type: 'feedback', requestId: command.requestId, questionId: command.questionId, answer: command.answer })
        case 'rejoin':
          current = command.requestId
          // The seed emits `rejoin` with `{ requestId }`; as text it needs a type to be told apart.
          return out(command, 'rejoin', wire === 'text' ? { type: 'rejoin', requestId: command.requestId } : { requestId: command.requestId })
        default:
          return unsupportedCommand('progress', command.type)
      }
    },
  }
}
