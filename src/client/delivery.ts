import {
  AgentwireError,
  isEventType,
  parseState,
  ProtocolError,
  type AgentEvent,
  type DecodeResult,
  type EventMessage,
  type ServerMessage,
  type StateMessage,
} from 'agentwire/protocol'
import { ERROR_BAD_REQUEST, ERROR_INTERNAL } from '../protocol/code-values'
import type { Connection } from './connection'
import { positive, type ClientCore } from './core'
import { messageOf } from './errors'
import { hasSocket } from './machine'
import { errorFromBody } from './request'
import type { Requests } from './requests'
import type { EventContext, ResyncInfo } from './types'
import type { WireSubscriptions } from './wire'

const RESYNC_REASONS = new Set(['window', 'epoch', 'gap'])

/**
 * A frame's way in: decoded (a bad frame is counted and reported, and too many in a row end
 * the connection), then by type: events through positions (dedupe, gap detection) into the
 * store and then to handlers, snapshots into the store, replies to the subscriptions or
 * commands waiting for them. Nothing thrown by a codec, the store or a handler escapes.
 */
export interface Delivery {
  /** A frame from the socket of connection `generation`. */
  receive(generation: number, data: unknown): void
  /** A connection is ready: events older than now are replays when it is a reconnect. */
  ready(reconnected: boolean): void
  /** Messages the codec answered itself for a command sent on connection `generation` (`EncodeResult.local`). */
  answer(generation: number, messages: readonly ServerMessage[]): void
}

export function createDelivery(core: ClientCore, connection: Connection, wire: WireSubscriptions, requests: Requests): Delivery {
  const { options, codec, caps, clock, stats, emitter, store, positions, report, debug } = core
  const maxProtocolErrors = Math.max(1, Math.floor(positive(options.maxProtocolErrors, 3)))
  const subscriptions = wire.registry
  let protocolErrorRun = 0
  /** Clock time the current connection became ready (resumed events older than it are replays). */
  let readyAt: number | undefined

  function current(generation: number): boolean {
    return generation === connection.state.generation && hasSocket(connection.state)
  }

  function receive(generation: number, data: unknown): void {
    // Frames from an abandoned connection are history.
    if (!current(generation)) return
    stats.framesIn++
    connection.received()
    let decoded: DecodeResult
    try {
      decoded = codec.decode(data)
    } catch (error) {
      decoded = { ok: false, error: new ProtocolError(ERROR_BAD_REQUEST, `the ${codec.name} codec threw: ${messageOf(error)}`, { cause: error }) }
    }
    if (!decoded.ok) return protocolError(generation, decoded.error)
    protocolErrorRun = 0
    if ('unknown' in decoded) {
      stats.unknownFrames++
      // A foreign frame no canonical event fits still reaches `on('event')`, as it came.
      if (decoded.event !== undefined) emitter.emit('event', decoded.event, { channel: decoded.channel ?? 'global', replayed: false } satisfies EventContext)
      else debug('unknown frame skipped', { type: decoded.unknown })
      return
    }
    answer(generation, decoded.messages)
  }

  function answer(generation: number, messages: readonly ServerMessage[]): void {
    for (const message of messages) {
      if (!current(generation)) break
      try {
        handle(generation, message)
      } catch (error) {
        report(new AgentwireError(ERROR_INTERNAL, `handling a "${message.type}" frame failed: ${messageOf(error)}`, { cause: error }))
      }
    }
  }

  function protocolError(generation: number, error: ProtocolError): void {
    stats.decodeErrors++
    report(error)
    // Only a strict protocol ends the link for bad frames: a foreign backend's are reported one by one.
    if (!caps.strict) return
    protocolErrorRun++
    if (protocolErrorRun >= maxProtocolErrors) {
      protocolErrorRun = 0
      connection.dispatch({ type: 'protocolErrors', generation })
    }
  }

  function handle(generation: number, message: ServerMessage): void {
    switch (message.type) {
      case 'welcome':
        // Before the dispatch: being ready flushes the outbox, whose commands are checked against them.
        requests.limits(message.limits)
        connection.dispatch({ type: 'welcome', generation })
        if (message.subscriptions) wire.applyResults(message.subscriptions)
        return
      case 'reply':
        if (!wire.reply(message, generation)) requests.reply(message)
        return
      case 'event':
        return deliver(message)
      case 'state':
        return applyState(message)
      case 'error':
        if (message.error.raw !== undefined) stats.backendErrors++
        if (!requests.error(message)) report(errorFromBody(message.error))
        return
      case 'refresh':
        return connection.refreshToken()
      case 'ping':
        connection.send({ type: 'pong', ...(message.t === undefined ? {} : { t: message.t }) })
        return
      case 'pong':
        return
    }
  }

  function deliver(message: EventMessage): void {
    const { channel, event } = message
    // After an unsubscribe, events already on their way are not anyone's business; on a
    // backend without server-side subscriptions this is the client-side filter.
    if (!subscriptions.covers(channel)) return
    const positioned = caps.positions && message.seq !== undefined && message.epoch !== undefined
    if (positioned) {
      const verdict = positions.judge(channel, message.epoch!, message.seq!)
      if (verdict === 'duplicate') {
        stats.duplicates++
        return
      }
      if (verdict !== 'deliver') {
        if (verdict === 'backwards') stats.duplicates++
        if (!caps.resume) {
          // Nothing to ask again from: take the new position and say so, never silently.
          positions.reset(channel, message.epoch!, message.seq! - 1)
          positions.judge(channel, message.epoch!, message.seq!)
          emitter.emit('resync', { channel, reason: 'gap' } satisfies ResyncInfo)
        } else {
          debug('gap: asking again from the last position', { channel, verdict })
          wire.recover(channel)
          return
        }
      }
    }
    stats.events++
    if ('untyped' in event) stats.unknownFrames++
    store.apply(channel, event)
    // The context only for a listener: none of this type or of 'event', nothing is built. (The
    // 'event' emit looks its listeners up after the type's ran, as one of those may add some.)
    if (emitter.count(event.type) + emitter.count('event')) {
      const time = message.time
      const replayed = readyAt !== undefined && time !== undefined && time < readyAt
      // One literal, no spreads of conditional ones (one object per event, not three), with every
      // field in it: a field added later takes a second allocation. Deleting the field added last
      // keeps the object's fast shape.
      const ctx: { -readonly [K in keyof EventContext]: EventContext[K] } = positioned ? { channel, replayed, seq: message.seq!, epoch: message.epoch!, time } : { channel, replayed, time }
      if (time === undefined) delete ctx.time
      emitter.emit(event.type, event, ctx)
      emitter.emit('event', event, ctx)
    }
    if (isEventType(event.type)) requests.event(event as AgentEvent)
  }

  function applyState(message: StateMessage): void {
    const { channel } = message
    if (message.reason !== 'rejoin' && !subscriptions.covers(channel)) return
    const parsed = parseState(message.state)
    if (!parsed.ok) {
      // Schema-invalid: counted like any undecodable frame, and it moves no position.
      stats.decodeErrors++
      report(parsed.error)
      return
    }
    store.replace(channel, parsed.state, options.events?.read(message.reduced))
    if (!channel.endsWith('*')) positions.reset(channel, message.epoch, message.seq)
    if (RESYNC_REASONS.has(message.reason)) emitter.emit('resync', { channel, reason: message.reason as ResyncInfo['reason'] } satisfies ResyncInfo)
    const requestId = message.requestId ?? (channel.startsWith('request:') ? channel.slice('request:'.length) : undefined)
    if (requestId !== undefined) requests.state(requestId, message.reason === 'rejoin')
  }

  return {
    receive,
    answer(generation, messages) {
      if (current(generation)) answer(generation, messages)
    },
    ready(reconnected) {
      readyAt = reconnected ? clock.now() : undefined
      protocolErrorRun = 0
    },
  }
}
