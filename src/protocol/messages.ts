import * as z from 'zod/mini'
import { id, text } from './fields'

/**
 * Streamed messages and tool calls: the events an agent emits while it thinks aloud (AG-UI's
 * TEXT_MESSAGE_* and TOOL_CALL_*, and the agent's shared state), published on the request's
 * channel `request:{requestId}`, and the views `reduce` assembles from them on
 * `RequestView.messages` and `RequestView.state`.
 *
 * A delta is a piece of text, not a whole: only positions make "exactly once" possible, and
 * the gateway's snapshot of the request carries the text assembled so far, so a client that
 * comes back past its replay window still gets every piece once (in the snapshot) and the
 * rest after it (live).
 */

const role = z.string().check(z.minLength(1), z.maxLength(64))

/** The message and tool-call payloads, by event type; `events.ts` spreads them into the union. */
export const messagePayloads = {
  /** A message began. `role` is AG-UI's (`assistant`, `user`, `system`, `developer`, `tool`) or the backend's own word. */
  'message.started': z.object({ requestId: id, messageId: id, role: z.optional(role), agent: z.optional(id) }),
  /** The next piece of a message's text. */
  'message.delta': z.object({ requestId: id, messageId: id, delta: text }),
  /** A message is complete. */
  'message.ended': z.object({ requestId: id, messageId: id }),
  /** A tool call began; `parentMessageId` is the assistant message that made it, when known. */
  'tool.call.started': z.object({ requestId: id, toolCallId: id, name: z.string().check(z.minLength(1), z.maxLength(256)), parentMessageId: z.optional(id) }),
  /** The next piece of a tool call's arguments (a JSON text, streamed). */
  'tool.call.args': z.object({ requestId: id, toolCallId: id, delta: text }),
  /** A tool call's arguments are complete. */
  'tool.call.ended': z.object({ requestId: id, toolCallId: id }),
  /** What the tool returned; `messageId` is the tool message that carried it, when there was one. */
  'tool.call.result': z.object({ requestId: id, toolCallId: id, result: z.unknown(), messageId: z.optional(id) }),
  /** The agent's shared state, whole (AG-UI's STATE_SNAPSHOT, or a STATE_DELTA already applied). */
  'request.state': z.object({ requestId: id, state: z.unknown() }),
  /**
   * What the agent said that has no event of its own (AG-UI's CUSTOM, RAW, REASONING_*,
   * ACTIVITY_*, a type nobody knows): CUSTOM's `name` and `value`, else the AG-UI type as
   * `name` (and RAW's `event` as `value`), with `raw` the event as it came. Positioned and
   * replayed like the rest; it changes no state.
   */
  'request.custom': z.object({ requestId: id, name: id, value: z.optional(z.unknown()), raw: z.optional(z.unknown()) }),
}

/** Whether a message or tool call is still streaming (`open`) or complete (`done`). */
export type StreamStatus = 'open' | 'done'

/** A message's text so far. */
export interface TextMessageView {
  readonly kind: 'text'
  readonly id: string
  readonly role: string
  readonly text: string
  readonly status: StreamStatus
  readonly agent?: string
}

/** A tool call: its arguments so far and, once the tool answered, its result. */
export interface ToolCallView {
  readonly kind: 'tool'
  readonly id: string
  readonly name: string
  /** The arguments' JSON text as streamed so far (parse it once `status` is `done`). */
  readonly args: string
  readonly status: StreamStatus
  readonly parentMessageId?: string
  readonly result?: unknown
  /** The id of the tool message that carried the result, when it had one. */
  readonly resultMessageId?: string
}

/** One entry of a request's transcript: a message or a tool call, in the order they started. */
export type MessageView = TextMessageView | ToolCallView

const streamStatus = z.enum(['open', 'done'])

/** How a transcript entry crosses the wire in a snapshot. */
export const MessageViewSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('text'), id: z.string(), role: z.string(), text: z.string(), status: streamStatus, agent: z.optional(z.string()) }),
  z.object({
    kind: z.literal('tool'),
    id: z.string(),
    name: z.string(),
    args: z.string(),
    status: streamStatus,
    parentMessageId: z.optional(z.string()),
    result: z.optional(z.unknown()),
    resultMessageId: z.optional(z.string()),
  }),
])
