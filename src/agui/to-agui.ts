import type { AgentEvent, MessageView, RequestView, StepView } from 'agentwire/protocol'
import { aguiRole } from './from-agui'

/**
 * Canonical events → AG-UI events, for one request watched as one AG-UI run: what the gateway's
 * AG-UI endpoint streams. A stream always starts with a prelude `@ag-ui/client`'s verifier
 * accepts (RUN_STARTED, MESSAGES_SNAPSHOT, STATE_SNAPSHOT, every running step and every unclosed
 * message and tool call re-opened), and the writer keeps what it opened so later events never break the verifier's
 * rules (content only inside an open message, RUN_FINISHED only when everything is closed).
 */
export type AguiEvent = { readonly type: string } & Record<string, unknown>

export interface AguiWriter {
  /**
   * The events that bring a fresh AG-UI stream to `view` (the request as it stands at the
   * position the stream resumes from). `messages` go first in the snapshot (the input messages of
   * a POST, say), then the request's transcript.
   */
  prelude(view: RequestView | undefined, messages?: readonly unknown[]): AguiEvent[]
  /** One canonical event of the request, as AG-UI events (none for what AG-UI has no word for but CUSTOM). */
  map(event: AgentEvent): AguiEvent[]
  /** Whether RUN_FINISHED or RUN_ERROR was written: the stream is over. */
  readonly finished: boolean
}

export function createAguiWriter(requestId: string, threadId = requestId): AguiWriter {
  // Open messages and tool calls, as `text:{id}` / `tool:{id}` (the two kinds' ids may be equal).
  const open = new Set<string>()
  const steps = new Set<string>()
  let finished = false
  const run = { threadId, runId: requestId }

  const closeAll = (out: AguiEvent[]) => {
    for (const key of open) {
      const id = key.slice(5)
      out.push(key.startsWith('text:') ? { type: 'TEXT_MESSAGE_END', messageId: id } : { type: 'TOOL_CALL_END', toolCallId: id })
    }
    open.clear()
    for (const name of steps) out.push({ type: 'STEP_FINISHED', stepName: name })
    steps.clear()
  }
  const startText = (out: AguiEvent[], messageId: string, role: string) => {
    if (open.has(`text:${messageId}`)) return
    open.add(`text:${messageId}`)
    out.push({ type: 'TEXT_MESSAGE_START', messageId, role })
  }
  const startTool = (out: AguiEvent[], toolCallId: string, name: string, parentMessageId?: string) => {
    if (open.has(`tool:${toolCallId}`)) return
    open.add(`tool:${toolCallId}`)
    out.push({ type: 'TOOL_CALL_START', toolCallId, toolCallName: name || 'tool', ...(parentMessageId ? { parentMessageId } : {}) })
  }
  const names = new Map<string, { name: string; parent?: string }>()

  function prelude(view: RequestView | undefined, messages: readonly unknown[] = []): AguiEvent[] {
    const out: AguiEvent[] = [{ type: 'RUN_STARTED', ...run }]
    const transcript = view?.messages ?? []
    const own = toAguiMessages(transcript)
    // The caller's messages first (a POST's input), but never one the transcript has itself.
    const ids = new Set(own.map((m) => (m as { id: string }).id))
    const theirs = messages.filter((m) => !ids.has((m as { id?: unknown } | null)?.id as string))
    out.push({ type: 'MESSAGES_SNAPSHOT', messages: [...theirs, ...own] })
    if (view?.state !== undefined) out.push({ type: 'STATE_SNAPSHOT', snapshot: view.state })
    // Running steps re-opened, so their STEP_FINISHED (live or replayed) is not skipped.
    for (const s of view?.steps ?? []) {
      const name = stepName(s)
      if (s.status !== 'running' || steps.has(name)) continue
      steps.add(name)
      out.push({ type: 'STEP_STARTED', stepName: name })
    }
    for (const m of transcript) {
      if (m.kind === 'tool') names.set(m.id, { name: m.name, ...(m.parentMessageId ? { parent: m.parentMessageId } : {}) })
      if (m.status !== 'open') continue
      if (m.kind === 'text') startText(out, m.id, aguiRole(m.role))
      else startTool(out, m.id, m.name, m.parentMessageId)
    }
    if (view?.status === 'completed') out.push(...map({ type: 'request.completed', payload: { requestId, result: view.result } }))
    else if (view?.status === 'failed') out.push(...map({ type: 'request.error', payload: { requestId, message: view.error?.message ?? 'failed' } }))
    else if (view?.status === 'cancelled') out.push(...map({ type: 'request.cancelled', payload: { requestId, ...(view.cancelReason ? { reason: view.cancelReason } : {}) } }))
    return out
  }

  function map(event: AgentEvent): AguiEvent[] {
    const out: AguiEvent[] = []
    if (finished) return out
    switch (event.type) {
      case 'request.started':
        break
      case 'message.started':
        startText(out, event.payload.messageId, aguiRole(event.payload.role))
        break
      case 'message.delta':
        if (event.payload.delta === '') break
        startText(out, event.payload.messageId, 'assistant')
        out.push({ type: 'TEXT_MESSAGE_CONTENT', messageId: event.payload.messageId, delta: event.payload.delta })
        break
      case 'message.ended':
        if (!open.delete(`text:${event.payload.messageId}`)) break
        out.push({ type: 'TEXT_MESSAGE_END', messageId: event.payload.messageId })
        break
      case 'tool.call.started':
        names.set(event.payload.toolCallId, { name: event.payload.name, ...(event.payload.parentMessageId ? { parent: event.payload.parentMessageId } : {}) })
        startTool(out, event.payload.toolCallId, event.payload.name, event.payload.parentMessageId)
        break
      case 'tool.call.args': {
        if (event.payload.delta === '') break
        const known = names.get(event.payload.toolCallId)
        startTool(out, event.payload.toolCallId, known?.name ?? 'tool', known?.parent)
        out.push({ type: 'TOOL_CALL_ARGS', toolCallId: event.payload.toolCallId, delta: event.payload.delta })
        break
      }
      case 'tool.call.ended':
      case 'tool.call.result': {
        const id = event.payload.toolCallId
        if (open.delete(`tool:${id}`)) {
          out.push({ type: 'TOOL_CALL_END', toolCallId: id })
        }
        if (event.type === 'tool.call.result') {
          out.push({ type: 'TOOL_CALL_RESULT', messageId: event.payload.messageId ?? `${id}:result`, toolCallId: id, content: asText(event.payload.result), role: 'tool' })
        }
        break
      }
      case 'step.progress': {
        const name = stepName(event.payload)
        if (event.payload.status === 'running') {
          if (!steps.has(name)) {
            steps.add(name)
            out.push({ type: 'STEP_STARTED', stepName: name })
          }
        } else if (steps.delete(name)) out.push({ type: 'STEP_FINISHED', stepName: name })
        break
      }
      case 'request.state':
        out.push({ type: 'STATE_SNAPSHOT', snapshot: event.payload.state })
        break
      case 'request.completed':
        closeAll(out)
        finished = true
        out.push({ type: 'RUN_FINISHED', ...run, ...(event.payload.result === undefined ? {} : { result: event.payload.result }) })
        break
      case 'request.error':
        closeAll(out)
        finished = true
        out.push({ type: 'RUN_ERROR', message: event.payload.message })
        break
      case 'request.cancelled':
        closeAll(out)
        finished = true
        out.push({ type: 'RUN_ERROR', message: event.payload.reason ? `cancelled: ${event.payload.reason}` : 'cancelled', code: 'cancelled' })
        break
      case 'request.custom': {
        // Back as it came: CUSTOM as CUSTOM, RAW as RAW, anything else (REASONING_*, ACTIVITY_*, a
        // type nobody knows) inside a RAW, since a stream that resumes cannot re-open those.
        const { name, value, raw } = event.payload
        const type = (raw as { type?: unknown } | null)?.type
        if (raw === undefined || type === 'CUSTOM') out.push({ type: 'CUSTOM', name, ...(value === undefined ? {} : { value }) })
        else if (type === 'RAW') {
          const source = (raw as { source?: unknown }).source
          out.push({ type: 'RAW', event: value ?? null, ...(typeof source === 'string' ? { source } : {}) })
        } else out.push({ type: 'RAW', event: raw, source: 'agui' })
        break
      }
      default:
        out.push({ type: 'CUSTOM', name: event.type, value: event.payload })
    }
    return out
  }

  return {
    prelude,
    map,
    get finished() {
      return finished
    },
  }
}

/** A step's AG-UI name: its `stepId`, else `{agent}:{step}` (the identity `reduce` gives it). */
function stepName(s: Pick<StepView, 'agent' | 'step' | 'stepId'>): string {
  return s.stepId ?? `${s.agent}:${s.step}`
}

/**
 * The steps as they stood before `events` (the events after some position, oldest first), as far
 * as running goes: a step those events finished was running then, one they started did not run
 * yet (left out), and any other keeps its status.
 */
export function rewindSteps(steps: readonly StepView[], events: readonly AgentEvent[]): StepView[] {
  const first = new Map<string, string>()
  for (const e of events) if (e.type === 'step.progress' && !first.has(stepName(e.payload))) first.set(stepName(e.payload), e.payload.status)
  return steps.flatMap((s) => {
    const status = first.get(stepName(s))
    if (status === undefined) return [s]
    return status === 'running' ? [] : [{ ...s, status: 'running' }]
  })
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value
  return value === undefined ? '' : JSON.stringify(value)
}

/** A transcript as AG-UI messages: text messages, tool calls on their assistant message, results as tool messages. */
export function toAguiMessages(transcript: readonly MessageView[]): unknown[] {
  const out: Array<Record<string, unknown>> = []
  const byId = new Map<string, Record<string, unknown>>()
  for (const m of transcript) {
    if (m.kind === 'text') {
      const message: Record<string, unknown> = { id: m.id, role: aguiRole(m.role), content: m.text }
      byId.set(m.id, message)
      out.push(message)
      continue
    }
    const parentId = m.parentMessageId ?? `${m.id}:call`
    let parent = byId.get(parentId)
    if (!parent || parent.role !== 'assistant') {
      parent = { id: parentId, role: 'assistant' }
      byId.set(parentId, parent)
      out.push(parent)
    }
    ;((parent.toolCalls ??= []) as unknown[]).push({ id: m.id, type: 'function', function: { name: m.name || 'tool', arguments: m.args } })
    if (m.result !== undefined) out.push({ id: m.resultMessageId ?? `${m.id}:result`, role: 'tool', toolCallId: m.id, content: asText(m.result) })
  }
  return out
}

/**
 * The transcript as it stood before `events` (the events after some position, oldest first):
 * the text and arguments they appended taken off again, what they started removed, what they
 * ended re-opened, results they brought removed. Deltas only append, so this is exact.
 */
export function rewindTranscript(transcript: readonly MessageView[], events: readonly AgentEvent[]): MessageView[] {
  const list = transcript.map((m) => ({ ...m })) as Array<{ -readonly [K in keyof MessageView]: MessageView[K] } & Record<string, unknown>>
  const find = (kind: 'text' | 'tool', id: string) => list.find((m) => m.kind === kind && m.id === id)
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i] as AgentEvent
    switch (e.type) {
      case 'message.delta':
      case 'tool.call.args': {
        const m = e.type === 'message.delta' ? find('text', e.payload.messageId) : find('tool', e.payload.toolCallId)
        const field = m?.kind === 'text' ? 'text' : 'args'
        if (m && typeof m[field] === 'string' && (m[field] as string).endsWith(e.payload.delta)) m[field] = (m[field] as string).slice(0, (m[field] as string).length - e.payload.delta.length)
        break
      }
      case 'message.ended':
      case 'tool.call.ended': {
        const m = e.type === 'message.ended' ? find('text', e.payload.messageId) : find('tool', e.payload.toolCallId)
        if (m) m.status = 'open'
        break
      }
      case 'tool.call.result': {
        const m = find('tool', e.payload.toolCallId)
        if (m) {
          delete m.result
          delete m.resultMessageId
          m.status = 'open'
        }
        break
      }
      case 'message.started':
      case 'tool.call.started': {
        const [kind, id] = e.type === 'message.started' ? (['text', e.payload.messageId] as const) : (['tool', e.payload.toolCallId] as const)
        const at = list.findIndex((m) => m.kind === kind && m.id === id)
        if (at >= 0) list.splice(at, 1)
        break
      }
    }
  }
  return list as unknown as MessageView[]
}
