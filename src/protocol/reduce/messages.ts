import type { MessageView, TextMessageView, ToolCallView } from '../messages'
import { getKey } from '../records'
import type { Mutable, StateWriter } from '../writer'
import { NONE, create, patch, upsert, type EntityReducer, type Patch } from './entity'
import { newRequest } from './requests'

/**
 * `RequestView.messages`: the request's transcript, one entry per message or tool call in the
 * order they started, each with its text or arguments so far; and `RequestView.state`.
 *
 * - An entry is its kind and id: a tool call may share its id with a message.
 * - A delta, end or result for an entry not seen yet creates it (a client may subscribe
 *   mid-message; the gateway's snapshot then carries the start), as an `assistant` message or
 *   a tool call named `''` until its start arrives.
 * - Deltas append, in order of arrival: positions make each arrive once, so there is nothing
 *   to deduplicate here (an equal piece twice is two pieces).
 * - `message.started` / `tool.call.started` for an entry that exists only fill in what it
 *   carries (role, name); they never reset the text. A result marks the call `done`.
 * - A finished request still records all of these: they describe what was said.
 */
export const messages = {
  'message.started': (w, p) => entry(w, p.requestId, text(p.messageId), { role: p.role, agent: p.agent }),
  'message.delta': (w, p) => entry(w, p.requestId, text(p.messageId), (old) => ({ text: old.text + p.delta })),
  'message.ended': (w, p) => entry(w, p.requestId, text(p.messageId), { status: 'done' }),
  'tool.call.started': (w, p) => entry(w, p.requestId, tool(p.toolCallId), { name: p.name, parentMessageId: p.parentMessageId }),
  'tool.call.args': (w, p) => entry(w, p.requestId, tool(p.toolCallId), (old) => ({ args: old.args + p.delta })),
  'tool.call.ended': (w, p) => entry(w, p.requestId, tool(p.toolCallId), { status: 'done' }),
  'tool.call.result': (w, p) => entry(w, p.requestId, tool(p.toolCallId), { status: 'done', result: p.result, resultMessageId: p.messageId }),
  'request.state': (w, p) => upsert(w, 'requests', p.requestId, getKey(w.state.requests, p.requestId), newRequest, { state: p.state }),
  // For `on('event')` only: it creates the request it names, and changes nothing else.
  'request.custom': (w, p) => upsert(w, 'requests', p.requestId, getKey(w.state.requests, p.requestId), newRequest, {}),
} satisfies EntityReducer

const text = (id: string): Mutable<TextMessageView> => ({ kind: 'text', id, role: 'assistant', text: '', status: 'open' })
const tool = (id: string): Mutable<ToolCallView> => ({ kind: 'tool', id, name: '', args: '', status: 'open' })

/**
 * Patches the entry of `fresh`'s kind and id in request `requestId` with `fields` (or what
 * `fields` makes of the entry), creating it as `fresh` (and the request) when new. The entry
 * is usually the newest, so it is looked for from the end.
 */
function entry<V extends MessageView>(w: StateWriter, requestId: string, fresh: Mutable<V>, fields: Patch<V> | ((old: V) => Patch<V>)): void {
  const prev = getKey(w.state.requests, requestId)
  const list = prev?.messages ?? NONE
  let index = list.length - 1
  while (index >= 0 && (list[index]!.id !== fresh.id || list[index]!.kind !== fresh.kind)) index--
  const old = list[index] as V | undefined
  const f = typeof fields === 'function' ? fields(old ?? fresh) : fields
  const next = old ? patch<V>(w, old, f) : create<V>(w, fresh, f)
  if (!next) return
  const request = prev ? w.own(prev) : w.adopt(newRequest(requestId))
  const own = w.own(list as readonly MessageView[])
  if (index < 0) own.push(next)
  else own[index] = next
  request.messages = own
  w.set('requests', requestId, request)
}
