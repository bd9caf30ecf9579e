import type { MessageView, TextMessageView, ToolCallView } from '../messages'
import { getKey } from '../records'
import type { RequestView } from '../state'
import type { Mutable, StateWriter } from '../writer'
import { NONE, create, patch, upsert, type EntityReducer, type Patch } from './entity'

/**
 * `RequestView.messages`: the request's transcript, one entry per message or tool call in the
 * order they started, each with its text or arguments so far; and `RequestView.state`.
 *
 * - A delta, end or result for an entry not seen yet creates it (a client may subscribe
 *   mid-message; the gateway's snapshot then carries the start), as an `assistant` message or
 *   a tool call named `''` until its start arrives.
 * - Deltas append, in order of arrival: positions make each arrive once, so there is nothing
 *   to deduplicate here (an equal piece twice is two pieces).
 * - `message.started` / `tool.call.started` for an entry that exists only fill in what it
 *   carries (role, name); they never reset the text.
 * - A finished request still records all of these: they describe what was said.
 */
export const messages = {
  'message.started': (w, p) => entry(w, p.requestId, p.messageId, () => text(p.messageId), { role: p.role, agent: p.agent } as Patch<MessageView>),
  'message.delta': (w, p) => {
    if (p.delta === '') return
    entry(w, p.requestId, p.messageId, () => text(p.messageId), (old) => ({ text: (old?.kind === 'text' ? old.text : '') + p.delta }))
  },
  'message.ended': (w, p) => entry(w, p.requestId, p.messageId, () => text(p.messageId), { status: 'done' }),
  'tool.call.started': (w, p) => entry(w, p.requestId, p.toolCallId, () => tool(p.toolCallId), { name: p.name, parentMessageId: p.parentMessageId } as Patch<MessageView>),
  'tool.call.args': (w, p) => {
    if (p.delta === '') return
    entry(w, p.requestId, p.toolCallId, () => tool(p.toolCallId), (old) => ({ args: (old?.kind === 'tool' ? old.args : '') + p.delta }) as Patch<MessageView>)
  },
  'tool.call.ended': (w, p) => entry(w, p.requestId, p.toolCallId, () => tool(p.toolCallId), { status: 'done' }),
  'tool.call.result': (w, p) =>
    // A result means the arguments were complete, whether or not their end was seen.
    entry(w, p.requestId, p.toolCallId, () => tool(p.toolCallId), { status: 'done', result: p.result, resultMessageId: p.messageId } as Patch<MessageView>),
  'request.state': (w, p) => {
    if (p.state === undefined) return
    upsert(w, 'requests', p.requestId, getKey(w.state.requests, p.requestId), newRequest, { state: p.state })
  },
} satisfies EntityReducer

function text(id: string): Mutable<TextMessageView> {
  return { kind: 'text', id, role: 'assistant', text: '', status: 'open' }
}

function tool(id: string): Mutable<ToolCallView> {
  return { kind: 'tool', id, name: '', args: '', status: 'open' }
}

// The same new request `requests.ts` makes (kept here so that file needs no export for it).
function newRequest(id: string): Mutable<RequestView> {
  return { id, status: 'running', steps: NONE, questions: NONE, completedAgents: NONE }
}

/**
 * Patches transcript entry `id` of request `requestId` with `fields` (or what `fields` makes
 * of the old entry), creating the entry from `fresh` and the request when new. The entry is
 * usually the newest, so it is looked for from the end.
 */
function entry(
  w: StateWriter,
  requestId: string,
  id: string,
  fresh: () => Mutable<MessageView>,
  fields: Patch<MessageView> | ((old: MessageView | undefined) => Patch<MessageView>),
): void {
  const prev = getKey(w.state.requests, requestId)
  const list = prev?.messages ?? NONE
  // Message ids and tool call ids are separate namespaces (AG-UI's are): an entry is its kind and id.
  const kind = fresh().kind
  let index = list.length - 1
  while (index >= 0 && ((list[index] as MessageView).id !== id || (list[index] as MessageView).kind !== kind)) index--
  const old = index < 0 ? undefined : list[index]
  const f = typeof fields === 'function' ? fields(old) : fields
  const next = old ? patch<MessageView>(w, old, f) : create<MessageView>(w, fresh(), f)
  if (!next) return
  const request = prev ? w.own(prev) : w.adopt(newRequest(requestId))
  const own = w.own(list as readonly MessageView[])
  if (index < 0) own.push(next)
  else own[index] = next
  request.messages = own
  w.set('requests', requestId, request)
}
