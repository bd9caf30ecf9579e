import * as z from 'zod/mini'
import type { Capabilities, Codec, DecodeResult, EncodeResult } from '../codec'
import { ErrorCode } from '../codes'
import { ProtocolError } from '../errors'
import { StepStatusValue } from '../events'
import type { ClientFrame, StateMessage } from '../frames'
import { parseJson } from '../json'
import type { RequestView } from '../state'
import { validate } from '../validate'
import { eventOn, isObj, readSocketIo, typed, unknown, unsupportedCommand, type Obj } from './shared'

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

const id = z.string().check(z.minLength(1), z.maxLength(512))

/**
 * The `state` frame the backend sends after `rejoin` (the seed names it but not its shape):
 * the request as the backend knows it, in the seed's own words.
 */
export const ProgressStateSchema = z.object({
  requestId: id,
  status: z.enum(['running', 'waiting', 'completed', 'failed', 'cancelled']),
  userQuery: z.optional(z.string().check(z.maxLength(65_536))),
  context: z.optional(z.record(z.string(), z.unknown())),
  steps: z.optional(
    z.array(
      z.object({
        step: z.number(),
        agent: id,
        status: StepStatusValue,
        stepId: z.optional(id),
        stepOrder: z.optional(z.number()),
        tool: z.optional(z.string().check(z.maxLength(256))),
        result: z.optional(z.unknown()),
      }),
    ).check(z.maxLength(10_000)),
  ),
  completedAgents: z.optional(z.array(id).check(z.maxLength(1000))),
  result: z.optional(z.unknown()),
  error: z.optional(z.object({ message: z.string().check(z.maxLength(65_536)), agent: z.optional(id), step: z.optional(z.number()) })),
})
export type ProgressState = z.infer<typeof ProgressStateSchema>

/** The server frame names this codec decodes. */
export const PROGRESS_SERVER_FRAMES = ['progress', 'executor.step.progress', 'agent.completed', 'error', 'request.completed', 'state'] as const

/**
 * A `state` message for the request: `state` is the part of the canonical state the
 * `request:{id}` channel owns, `{ requests: { [id]: RequestView } }`.
 */
export function progressStateMessage(s: ProgressState): StateMessage {
  const view: RequestView = {
    id: s.requestId,
    status: s.status,
    ...(s.userQuery !== undefined && { query: s.userQuery }),
    ...(s.context !== undefined && { context: s.context }),
    steps: [...(s.steps ?? [])].sort((a, b) => a.step - b.step),
    questions: [],
    completedAgents: s.completedAgents ?? [],
    ...(s.result !== undefined && { result: s.result }),
    ...(s.error !== undefined && { error: s.error }),
  }
  // Keyed by id: null prototype, so an id such as "__proto__" is an ordinary key.
  const requests = Object.create(null) as Record<string, RequestView>
  requests[s.requestId] = view
  // No positions on this backend: epoch "none", seq 0.
  return { type: 'state', channel: `request:${s.requestId}`, epoch: 'none', seq: 0, reason: 'rejoin', requestId: s.requestId, state: { requests } }
}

function decodeProgress(name: string, body: unknown, fallbackRequestId: string | undefined): DecodeResult {
  if (!isObj(body)) {
    if (!(PROGRESS_SERVER_FRAMES as readonly string[]).includes(name)) return unknown(name)
    return { ok: false, error: new ProtocolError(ErrorCode.BadRequest, `"${name}" expects the frame to be an object, got ${body === undefined ? 'nothing' : Array.isArray(body) ? 'array' : body === null ? 'null' : typeof body}`) }
  }
  const data: Obj | undefined = isObj(body.data) ? body.data : undefined
  const requestId = body.requestId ?? data?.requestId ?? fallbackRequestId
  switch (name) {
    case 'progress':
    case 'executor.step.progress':
      return eventOn(name, 'step.progress', {
        requestId,
        agent: body.agent,
        step: body.step ?? data?.step ?? data?.stepOrder,
        status: body.status ?? data?.status,
        stepId: data?.stepId,
        stepOrder: data?.stepOrder,
        tool: data?.tool,
        result: data?.result,
        data: body.data,
      }, (p) => `request:${p.requestId}`)
    case 'agent.completed':
      return eventOn(name, 'agent.completed', { requestId, agent: body.agent, data: body.data }, (p) => `request:${p.requestId}`)
    case 'error':
      return eventOn(name, 'request.error', { requestId, agent: body.agent, message: body.message, step: body.step }, (p) => (p.requestId === undefined ? 'global' : `request:${p.requestId}`))
    case 'request.completed':
      return eventOn(name, 'request.completed', { requestId, result: body.result }, (p) => `request:${p.requestId}`)
    case 'state': {
      const checked = validate(ProgressStateSchema, { ...body, requestId }, 'state')
      if (!checked.ok) return checked
      return { ok: true, messages: [progressStateMessage(checked.value)] }
    }
    default:
      return unknown(name)
  }
}

/** A progress codec for one wire form, or one connection's request. `dialects.progress` is `createProgressCodec()`. */
export function createProgressCodec(options: ProgressCodecOptions = {}): Codec {
  const wire = options.wire ?? 'socket.io'
  const out = (name: string, body: Obj): EncodeResult => ({ ok: true, frame: wire === 'text' ? JSON.stringify(body) : [name, body] })
  return {
    name: 'progress',
    capabilities: PROGRESS_CAPABILITIES,
    decode(frame: unknown): DecodeResult {
      if (typeof frame === 'string') {
        const parsed = parseJson(frame)
        if (!parsed.ok) return parsed
        const read = typed(parsed.value, 'progress')
        if (!read.ok) return read
        return decodeProgress(read.type, read.value, options.requestId)
      }
      const read = readSocketIo(frame, 'progress')
      if (!read.ok) return read
      return decodeProgress(read.name, read.args[0], options.requestId)
    },
    encode(command: ClientFrame): EncodeResult {
      switch (command.type) {
        case 'start':
          return out('start', { type: 'start', requestId: command.requestId, userQuery: command.query, ...(command.context !== undefined && { context: command.context }) })
        case 'cancel':
          return out('cancel', { type: 'cancel', requestId: command.requestId })
        case 'feedback':
          return out('feedback', { type: 'feedback', requestId: command.requestId, questionId: command.questionId, answer: command.answer })
        case 'rejoin':
          // The seed emits `rejoin` with `{ requestId }`; as text it needs a type to be told apart.
          return out('rejoin', wire === 'text' ? { type: 'rejoin', requestId: command.requestId } : { requestId: command.requestId })
        default:
          return unsupportedCommand('progress', command.type)
      }
    },
  }
}
