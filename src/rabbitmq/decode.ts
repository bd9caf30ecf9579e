import { decodeWebguiRedis, dialects, isEventType } from 'agentwire/protocol'
import type { AgentEvent, DecodeResult } from 'agentwire/protocol'

/** One AMQP message as the decoder sees it: its routing key and its body as UTF-8 text. */
export interface ExchangeMessage {
  readonly routingKey: string
  readonly text: string
}

/** Your own mapping of a message: the protocol's decode result, as the codecs return it. Should not throw (a throw counts as malformed). */
export type ExchangeDecoder = (message: ExchangeMessage) => DecodeResult

/**
 * How a message on the exchange becomes canonical events:
 * - `progress`: the progress seed's messages (`{ type, requestId, agent, data }`, the broker
 *   form `executor.step.progress` and the others the `progress` codec reads), with the routing
 *   key as the type when the body has none;
 * - `webgui`: the webgui seed's `{ type, timestamp, session_id, data }`, the routing key naming
 *   the webgui channel (`webgui:session:{id}`, or with dots: `webgui.session.{id}`);
 * - a function of your own.
 */
export type ExchangeDialect = 'progress' | 'webgui' | ExchangeDecoder

/** What one message became: canonical events, nothing worth publishing, or a malformed message (with a reason that never quotes it). */
export type ExchangeDecodeResult =
  | { ok: true; events: Array<{ channel: string; event: AgentEvent }> }
  | { ok: true; events: []; ignored: true }
  | { ok: false; reason: string }

/**
 * One message to canonical events on canonical channels, with the same dialect decoders the
 * codecs use on those backends' sockets and `ingestSeedChannels` uses on their Redis channels.
 * Never throws.
 */
export function decodeExchangeMessage(dialect: ExchangeDialect, message: ExchangeMessage): ExchangeDecodeResult {
  let result: DecodeResult
  try {
    result = dialect === 'progress' ? decodeProgress(message) : dialect === 'webgui' ? decodeWebgui(message) : dialect(message)
  } catch {
    return { ok: false, reason: 'the decoder failed' }
  }
  if (!result.ok) {
    // Code and path only: a decoder's message may quote a value from the payload.
    const at = result.error.path.length > 0 ? ` at ${result.error.path.join('.')}` : ''
    return { ok: false, reason: `${result.error.code}${at}` }
  }
  const events: Array<{ channel: string; event: AgentEvent }> = []
  for (const m of result.messages) if (m.type === 'event' && isEventType(m.event.type)) events.push({ channel: m.channel, event: m.event as AgentEvent })
  // A `state` answer, a type with no canonical event: nothing to position.
  if (events.length === 0) return { ok: true, events: [], ignored: true }
  return { ok: true, events }
}

function decodeProgress({ routingKey, text }: ExchangeMessage): DecodeResult {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return dialects.progress.decode(text) // the codec's own error for text that is not JSON
  }
  // The Socket.IO form `[name, body]` carries the type beside the body, so a message whose
  // body has no `type` is read under its routing key, as the seed's publisher sets both alike.
  const type = typeof body === 'object' && body !== null && typeof (body as { type?: unknown }).type === 'string' ? (body as { type: string }).type : routingKey
  return dialects.progress.decode([type, body])
}

function decodeWebgui({ routingKey, text }: ExchangeMessage): DecodeResult {
  const channel = routingKey.startsWith('webgui.') ? routingKey.replace(/\./g, ':') : routingKey
  return decodeWebguiRedis(channel, text)
}
