import fastJsonPatch, { type Operation } from 'fast-json-patch'
import type { AgentEvent } from 'agentwire/protocol'

/**
 * AG-UI events → canonical events, for one run (one agentwire request). AG-UI frames are
 * foreign: they are read leniently (a field the mapping does not need is never checked), and
 * only what a canonical event needs is required. An event is never nothing: one with no
 * canonical event of its own, or without the id its event needs, becomes `request.custom`
 * with the event as it came in `raw`.
 *
 * | AG-UI | canonical |
 * | --- | --- |
 * | RUN_STARTED | `request.started` (only with `started: true`: a gateway source publishes its own) |
 * | RUN_FINISHED / RUN_ERROR | `request.completed` / `request.error` (open messages and tool calls are ended first) |
 * | STEP_STARTED / STEP_FINISHED | `step.progress` `running` / `completed`, `stepId` = the step's name |
 * | TEXT_MESSAGE_START / _CONTENT / _END, _CHUNK | `message.started` / `.delta` / `.ended` |
 * | TOOL_CALL_START / _ARGS / _END / _RESULT, _CHUNK | `tool.call.started` / `.args` / `.ended` / `.result` |
 * | STATE_SNAPSHOT, STATE_DELTA | `request.state` with the whole state (the delta applied as JSON Patch) |
 * | MESSAGES_SNAPSHOT | what the snapshot has that the run has not said yet, as the events above |
 * | CUSTOM | `request.custom` with its `name` and `value` |
 * | anything else (RAW, REASONING_*, ACTIVITY_*, a type nobody knows, a known one without its id) | `request.custom`, `name` the AG-UI type (RAW's `event` as `value`); counted in `foreign` |
 */
export interface AguiMapper {
  /** The canonical events for one AG-UI event (often one, sometimes none or several). */
  map(event: unknown): AgentEvent[]
  /** Events carried as `request.custom` (no canonical event of their own), by AG-UI type (`unknown` without one). */
  readonly foreign: ReadonlyMap<string, number>
  /** The shared state as the run's STATE_SNAPSHOT / STATE_DELTA built it. */
  readonly state: unknown
  /** Whether RUN_FINISHED or RUN_ERROR was seen. */
  readonly finished: boolean
}

export interface AguiMapperOptions {
  /** Emit `request.started` for RUN_STARTED. @default false */
  started?: boolean
  /** The `agent` of `step.progress`. @default 'agent' */
  agent?: string
  /** Called when a STATE_DELTA cannot be applied (the state stays as it was). */
  onError?: (message: string) => void
}

type Obj = Record<string, unknown>
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined)

export function createAguiMapper(requestId: string, options: AguiMapperOptions = {}): AguiMapper {
  const agent = options.agent ?? 'agent'
  const foreign = new Map<string, number>()
  /** What the run has said so far, per `text:{messageId}` / `tool:{toolCallId}`: to end what is open, and to diff MESSAGES_SNAPSHOT. */
  const said = new Map<string, { kind: 'text' | 'tool'; text: string; open: boolean; result: boolean }>()
  const steps = new Map<string, number>()
  let chunkMessage: string | undefined
  let chunkTool: string | undefined
  let state: unknown = undefined
  let finished = false
  const r = { requestId }

  const startText = (out: AgentEvent[], messageId: string, role?: string) => {
    if (said.has(`text:${messageId}`)) return
    said.set(`text:${messageId}`, { kind: 'text', text: '', open: true, result: false })
    out.push({ type: 'message.started', payload: { ...r, messageId, ...(role ? { role } : {}) } })
  }
  const text = (out: AgentEvent[], messageId: string, delta: string) => {
    if (delta === '') return
    const s = said.get(`text:${messageId}`) ?? { kind: 'text' as const, text: '', open: true, result: false }
    s.text += delta
    said.set(`text:${messageId}`, s)
    out.push({ type: 'message.delta', payload: { ...r, messageId, delta } })
  }
  const endText = (out: AgentEvent[], messageId: string) => {
    const s = said.get(`text:${messageId}`)
    if (s) s.open = false
    out.push({ type: 'message.ended', payload: { ...r, messageId } })
  }
  const startTool = (out: AgentEvent[], toolCallId: string, name: string, parentMessageId?: string) => {
    if (said.has(`tool:${toolCallId}`)) return
    said.set(`tool:${toolCallId}`, { kind: 'tool', text: '', open: true, result: false })
    out.push({ type: 'tool.call.started', payload: { ...r, toolCallId, name, ...(parentMessageId ? { parentMessageId } : {}) } })
  }
  const args = (out: AgentEvent[], toolCallId: string, delta: string) => {
    if (delta === '') return
    const s = said.get(`tool:${toolCallId}`) ?? { kind: 'tool' as const, text: '', open: true, result: false }
    s.text += delta
    said.set(`tool:${toolCallId}`, s)
    out.push({ type: 'tool.call.args', payload: { ...r, toolCallId, delta } })
  }
  const endTool = (out: AgentEvent[], toolCallId: string) => {
    const s = said.get(`tool:${toolCallId}`)
    if (s) s.open = false
    out.push({ type: 'tool.call.ended', payload: { ...r, toolCallId } })
  }
  const endAllOpen = (out: AgentEvent[]) => {
    for (const [key, s] of said) if (s.open) (s.kind === 'text' ? endText : endTool)(out, key.slice(5))
    chunkMessage = chunkTool = undefined
  }
  const setState = (out: AgentEvent[], next: unknown) => {
    state = next
    out.push({ type: 'request.state', payload: { ...r, state: next === undefined ? null : next } })
  }

  /** The event as it came, for `on('event')`: CUSTOM's name and value, else its type (and RAW's `event`). */
  const custom = (out: AgentEvent[], type: string, e: Obj, raw: unknown) => {
    foreign.set(type, (foreign.get(type) ?? 0) + 1)
    const name = (type === 'CUSTOM' && str(e.name)?.slice(0, 256)) || type
    const value = type === 'CUSTOM' ? e.value : type === 'RAW' ? e.event : undefined
    out.push({ type: 'request.custom', payload: { ...r, name, ...(value === undefined ? {} : { value }), raw } })
  }

  function map(input: unknown): AgentEvent[] {
    const out: AgentEvent[] = []
    const e = (typeof input === 'object' && input !== null ? input : {}) as Obj
    const type = str(e.type)?.slice(0, 256) ?? 'unknown'
    // A known type without the id (or the delta) it needs is carried as it came.
    const other = () => custom(out, type, e, input)
    switch (type) {
      case 'RUN_STARTED':
        if (options.started) out.push({ type: 'request.started', payload: { ...r, query: '' } })
        break
      case 'RUN_FINISHED':
        endAllOpen(out)
        finished = true
        out.push({ type: 'request.completed', payload: { ...r, result: e.result ?? null } })
        break
      case 'RUN_ERROR':
        endAllOpen(out)
        finished = true
        out.push({ type: 'request.error', payload: { ...r, agent, message: String(e.message ?? 'the agent failed') } })
        break
      case 'STEP_STARTED':
      case 'STEP_FINISHED': {
        const name = str(e.stepName) ?? 'step'
        let step = steps.get(name)
        if (step === undefined) steps.set(name, (step = steps.size + 1))
        out.push({ type: 'step.progress', payload: { ...r, agent, step, stepId: name, status: type === 'STEP_STARTED' ? 'running' : 'completed' } })
        break
      }
      case 'TEXT_MESSAGE_START': {
        const id = str(e.messageId)
        if (id) startText(out, id, str(e.role))
        else other()
        break
      }
      case 'TEXT_MESSAGE_CONTENT': {
        const id = str(e.messageId)
        if (id && typeof e.delta === 'string') text(out, id, e.delta)
        else other()
        break
      }
      case 'TEXT_MESSAGE_END': {
        const id = str(e.messageId)
        if (id) endText(out, id)
        else other()
        break
      }
      case 'TEXT_MESSAGE_CHUNK': {
        const id = str(e.messageId) ?? chunkMessage
        if (!id) {
          other()
          break
        }
        if (id !== chunkMessage && chunkMessage !== undefined && said.get(`text:${chunkMessage}`)?.open) endText(out, chunkMessage)
        chunkMessage = id
        startText(out, id, str(e.role))
        if (typeof e.delta === 'string') text(out, id, e.delta)
        break
      }
      case 'TOOL_CALL_START': {
        const id = str(e.toolCallId)
        if (id) startTool(out, id, str(e.toolCallName) ?? 'tool', str(e.parentMessageId))
        else other()
        break
      }
      case 'TOOL_CALL_ARGS': {
        const id = str(e.toolCallId)
        if (id && typeof e.delta === 'string') args(out, id, e.delta)
        else other()
        break
      }
      case 'TOOL_CALL_END': {
        const id = str(e.toolCallId)
        if (id) endTool(out, id)
        else other()
        break
      }
      case 'TOOL_CALL_CHUNK': {
        const id = str(e.toolCallId) ?? chunkTool
        if (!id) {
          other()
          break
        }
        if (id !== chunkTool && chunkTool !== undefined && said.get(`tool:${chunkTool}`)?.open) endTool(out, chunkTool)
        chunkTool = id
        startTool(out, id, str(e.toolCallName) ?? 'tool', str(e.parentMessageId))
        if (typeof e.delta === 'string') args(out, id, e.delta)
        break
      }
      case 'TOOL_CALL_RESULT': {
        const id = str(e.toolCallId)
        if (!id) {
          other()
          break
        }
        const s = said.get(`tool:${id}`)
        if (s) {
          s.open = false
          s.result = true
        } else said.set(`tool:${id}`, { kind: 'tool', text: '', open: false, result: true })
        const messageId = str(e.messageId)
        out.push({ type: 'tool.call.result', payload: { ...r, toolCallId: id, result: e.content ?? null, ...(messageId ? { messageId } : {}) } })
        break
      }
      case 'STATE_SNAPSHOT':
        setState(out, e.snapshot)
        break
      case 'STATE_DELTA': {
        if (!Array.isArray(e.delta)) {
          other()
          break
        }
        try {
          // validate = true: a malformed patch throws instead of half-applying; mutate = false.
          const next = fastJsonPatch.applyPatch(state ?? {}, e.delta as Operation[], true, false).newDocument
          setState(out, next)
        } catch (error) {
          options.onError?.(`STATE_DELTA could not be applied: ${error instanceof Error ? error.message : String(error)}`)
        }
        break
      }
      case 'MESSAGES_SNAPSHOT':
        if (Array.isArray(e.messages)) for (const m of e.messages) fromSnapshot(out, m)
        break
      default:
        custom(out, type, e, input)
    }
    return out
  }

  /** The part of one snapshot message the run has not said yet: new messages whole, a longer text as its missing tail. */
  function fromSnapshot(out: AgentEvent[], input: unknown): void {
    if (typeof input !== 'object' || input === null) return
    const m = input as Obj
    const id = str(m.id)
    if (!id) return
    const role = str(m.role) ?? 'assistant'
    if (role === 'tool') {
      const toolCallId = str(m.toolCallId)
      if (toolCallId && !said.get(`tool:${toolCallId}`)?.result) {
        said.set(`tool:${toolCallId}`, { kind: 'tool', text: said.get(`tool:${toolCallId}`)?.text ?? '', open: false, result: true })
        out.push({ type: 'tool.call.result', payload: { ...r, toolCallId, result: m.content ?? null, messageId: id } })
      }
      return
    }
    const content = typeof m.content === 'string' ? m.content : ''
    const known = said.get(`text:${id}`)
    if (!known) {
      startText(out, id, role)
      text(out, id, content)
      endText(out, id)
    } else if (content.startsWith(known.text) && content.length > known.text.length) {
      text(out, id, content.slice(known.text.length))
    }
    if (Array.isArray(m.toolCalls)) {
      for (const c of m.toolCalls as Obj[]) {
        const callId = str(c?.id)
        const fn = (c?.function ?? {}) as Obj
        if (!callId || said.has(`tool:${callId}`)) continue
        startTool(out, callId, str(fn.name) ?? 'tool', id)
        if (typeof fn.arguments === 'string') args(out, callId, fn.arguments)
        endTool(out, callId)
      }
    }
  }

  return {
    map,
    foreign,
    get state() {
      return state
    },
    get finished() {
      return finished
    },
  }
}

/** A role as AG-UI's text messages have them: `developer`, `system`, `user`, and anything else as `assistant`. */
export function aguiRole(role: string | undefined): 'developer' | 'system' | 'assistant' | 'user' {
  return role === 'developer' || role === 'system' || role === 'user' ? role : 'assistant'
}
