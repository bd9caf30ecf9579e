import { AgentwireError, MAX_SUBSCRIBE_BATCH, parseSubscribeResult, type ServerMessage, type SubscribeItem, type SubscribeResult } from 'agentwire/protocol'
import { ERROR_TIMEOUT } from '../protocol/code-values'
import { policyDelay } from './backoff'
import { timerSlot, type TimerSlot } from './clock'
import type { Connection } from './connection'
import type { ClientCore } from './core'
import { createId } from './ids'
import { hasSocket } from './machine'
import { errorFromBody } from './request'
import { canonicalChannel, createSubscriptionRegistry, type SubscriptionHandle, type SubscriptionRegistry, type WireSubscription } from './subscription'

/**
 * The subscriptions as the gateway sees them: what is wanted, what was sent on which
 * connection, what was refused (and when to ask again), the `subscribe` and `unsubscribe`
 * frames awaiting their reply, and the channels released before the connection that
 * subscribed them was ready.
 */
export interface WireSubscriptions {
  readonly registry: SubscriptionRegistry
  /** A new handle on `channel`; the first one sends a `subscribe` when the connection is open. */
  subscribe(channel: string, viaRejoin: boolean): SubscriptionHandle
  /** The subscriptions a `hello` on connection `generation` restores, marked as sent on it. */
  resumeItems(generation: number): SubscribeItem[]
  /** The connection is ready: send the unsubscribes held back and every subscribe not sent on it. */
  ready(generation: number): void
  lost(): void
  terminate(): void
  /** Handles the reply to one of its own frames; false when the reply answers something else. */
  reply(message: Extract<ServerMessage, { type: 'reply' }>, generation: number): boolean
  applyResults(results: readonly SubscribeResult[]): void
  /** A gap on `channel`: asks again from the last position, once until it is answered. */
  recover(channel: string): void
  /** A `rejoin` of the channel's request was accepted: the gateway follows the channel now. */
  joined(channel: string): void
}

/**
 * @param failed called when a subscription is refused for good.
 */
export function createWireSubscriptions(core: ClientCore, connection: Connection, failed: (channel: string, error: AgentwireError) => void): WireSubscriptions {
  const { caps, replies, clock, policy, requestTimeoutMs, positions, store, report } = core
  const registry = createSubscriptionRegistry(onLastRelease)
  /**
   * `subscribe` frames awaiting their reply: frame id → channels, the connection they went on,
   * and the deadline of the reply. A subscribe that is never answered (the gateway shed the
   * frame) would otherwise leave its channels waiting for good: a gap's re-subscribe holds off
   * every later re-subscribe until its answer, so the channel would stall without a word.
   */
  const subscribeFrames = new Map<string, { channels: string[]; generation: number; deadline: TimerSlot }>()
  /** `unsubscribe` frames awaiting their reply, so the reply is not mistaken for an unknown one. */
  const unsubscribeFrames = new Set<string>()
  /** Channels released while the hello that subscribed them awaits its welcome. */
  const pendingUnsubscribes = new Set<string>()
  /** Timers of retries after a temporary refusal. */
  const retries = new Set<TimerSlot>()

  /** Subscriptions to (re)establish: all but those the server refused for good. */
  function wanted(): WireSubscription[] {
    return registry.all().filter((wire) => wire.status !== 'failed' || wire.error?.retryable === true)
  }

  function itemFor(wire: WireSubscription): SubscribeItem {
    const resume = caps.resume ? positions.resumeFor(wire.channel) : []
    return resume.length > 0 ? { channel: wire.channel, resume } : { channel: wire.channel }
  }

  function sendSubscribe(wires: WireSubscription[]): void {
    if (wires.length === 0 || connection.state.status !== 'open') return
    for (let i = 0; i < wires.length; i += MAX_SUBSCRIBE_BATCH) {
      const batch = wires.slice(i, i + MAX_SUBSCRIBE_BATCH)
      const id = createId()
      const generation = connection.state.generation
      if (!connection.send({ type: 'subscribe', id, channels: batch.map(itemFor) })) return
      if (replies) {
        const deadline = timerSlot(clock)
        subscribeFrames.set(id, { channels: batch.map((w) => w.channel), generation, deadline })
        // No answer in time counts as a temporary refusal: asked again with backoff (S7).
        deadline.set(requestTimeoutMs, () => {
          if (!subscribeFrames.delete(id) || connection.state.generation !== generation) return
          for (const wire of batch) {
            refuse(wire.channel, new AgentwireError(ERROR_TIMEOUT, `subscribe ${wire.channel}: no answer within ${requestTimeoutMs} ms; asking again`, { retryable: true }))
          }
        })
      }
      for (const wire of batch) {
        wire.sentOn = generation
        // No reply will come: the subscription is made once its frames are out (a refusal, if
        // the backend sends one, arrives as an `error` frame and is reported).
        if (!replies) markSubscribed(wire)
        else if (wire.status !== 'subscribed') wire.status = 'subscribing'
      }
    }
  }

  function sendUnsubscribe(channels: string[]): void {
    for (let i = 0; i < channels.length; i += MAX_SUBSCRIBE_BATCH) {
      const id = createId()
      if (connection.send({ type: 'unsubscribe', id, channels: channels.slice(i, i + MAX_SUBSCRIBE_BATCH) }) && replies) unsubscribeFrames.add(id)
    }
  }

  function forgetFrames(): void {
    for (const frame of subscribeFrames.values()) frame.deadline.clear()
    subscribeFrames.clear()
    unsubscribeFrames.clear()
  }

  function markSubscribed(wire: WireSubscription): void {
    wire.status = 'subscribed'
    wire.error = undefined
    wire.failures = 0
    wire.settle()
  }

  function applyResults(results: readonly SubscribeResult[]): void {
    for (const result of results) {
      if (result.ok) {
        const wire = registry.get(result.channel)
        if (wire) markSubscribed(wire)
        positions.answered(result.channel)
        // A pattern's own position, sent back when it resumes: channels born after it are not missed.
        if (result.position) positions.reset(result.channel, result.position.epoch, result.position.seq)
      } else {
        refuse(result.channel, errorFromBody(result.error, `subscribe ${result.channel}`))
      }
    }
  }

  /**
   * A subscribe was refused. Temporary (overloaded, rate limited: RELIABILITY S7): the channel
   * is still wanted, so it stays `subscribing` and is asked for again with backoff on this
   * connection (a new connection asks anyway), and `ready` waits for the outcome. Permanent
   * (forbidden, invalid channel): `failed`, `ready` rejects with the typed error, and it is not
   * asked for again, not even after a reconnect. The connection stays up either way.
   */
  function refuse(channel: string, error: AgentwireError): void {
    const wire = registry.get(channel)
    if (!wire) return
    wire.error = error
    wire.failures++
    report(error)
    if (error.retryable && wire.failures <= policy.maxRetries) {
      wire.status = 'subscribing'
      const generation = connection.state.generation
      const retry = timerSlot(clock)
      retries.add(retry)
      retry.set(policyDelay(wire.failures, policy), () => {
        retries.delete(retry)
        // Only the retry of this very refusal: a reconnect or a later answer supersedes it.
        if (connection.state.generation === generation && registry.get(channel) === wire && wire.status === 'subscribing' && wire.error === error) sendSubscribe([wire])
      })
      return
    }
    wire.status = 'failed'
    wire.settle(error)
    failed(channel, error)
  }

  function onLastRelease(wire: WireSubscription): void {
    const machine = connection.state
    if (caps.serverSubscribe && hasSocket(machine) && wire.sentOn === machine.generation) {
      if (machine.status === 'open') sendUnsubscribe([wire.channel])
      else pendingUnsubscribes.add(wire.channel)
    }
    // The cheap test first: `covers` walks every subscription, and a page releasing a thousand
    // channels must not pay positions × subscriptions for each.
    for (const channel of positions.channels()) {
      if ((channel === wire.channel || wire.channel.endsWith('*')) && !registry.covers(channel)) {
        positions.forget(channel)
        store.forget(channel)
      }
    }
    // A pattern that still covers the channel keeps its state: a later snapshot replaces it.
    if (!registry.covers(wire.channel)) store.forget(wire.channel)
  }

  return {
    registry,
    subscribe(channel, viaRejoin) {
      const { channel: canonical, pattern } = canonicalChannel(channel)
      const { handle, created } = registry.acquire(canonical, pattern)
      const machine = connection.state
      if (created && machine.status === 'open') {
        if (viaRejoin) {
          // The rejoin itself makes the gateway follow the channel; a subscribe would only repeat the snapshot.
          handle.wire.sentOn = machine.generation
          handle.wire.status = 'subscribing'
        } else if (!caps.serverSubscribe) markSubscribed(handle.wire)
        else if (connection.alive()) sendSubscribe([handle.wire])
      }
      return handle
    },
    resumeItems(generation) {
      const items: SubscribeItem[] = []
      for (const wire of wanted()) {
        if (items.length >= MAX_SUBSCRIBE_BATCH) break
        items.push(itemFor(wire))
        wire.sentOn = generation
        if (wire.status !== 'subscribed') wire.status = 'subscribing'
      }
      return items
    },
    ready(generation) {
      if (pendingUnsubscribes.size > 0) {
        const channels = [...pendingUnsubscribes].filter((channel) => registry.get(channel) === undefined)
        pendingUnsubscribes.clear()
        sendUnsubscribe(channels)
      }
      if (caps.serverSubscribe) sendSubscribe(wanted().filter((wire) => wire.sentOn !== generation))
      else for (const wire of registry.all()) markSubscribed(wire)
    },
    lost() {
      forgetFrames()
      for (const wire of registry.all()) if (wire.status === 'subscribed') wire.status = 'subscribing'
    },
    terminate() {
      for (const t of retries) t.clear()
      retries.clear()
      forgetFrames()
      pendingUnsubscribes.clear()
      for (const wire of registry.all()) {
        wire.status = 'unsubscribed'
        wire.sentOn = 0
      }
    },
    reply(message, generation) {
      const frame = subscribeFrames.get(message.id)
      if (frame) {
        subscribeFrames.delete(message.id)
        frame.deadline.clear()
        if (frame.generation !== generation) return true
        if (message.ok) applyResults(subscribeResultsOf(message.result, frame.channels))
        else for (const channel of frame.channels) refuse(channel, errorFromBody(message.error, `subscribe ${channel}`))
        return true
      }
      if (unsubscribeFrames.delete(message.id)) return true
      // A refusal after the subscribe was taken as made (a backend whose answers the codec had
      // not seen yet): it still fails the channels it names, and only those.
      const late = message.ok ? subscribeResultsOf(message.result, []).filter((r) => !r.ok) : []
      applyResults(late)
      return late.length > 0
    },
    applyResults,
    recover(channel) {
      if (positions.markRecovering(channel)) sendSubscribe(registry.covering(channel))
    },
    joined(channel) {
      const wire = registry.get(channel)
      if (wire && wire.sentOn === connection.state.generation) markSubscribed(wire)
    },
  }
}

function subscribeResultsOf(result: unknown, channels: string[]): SubscribeResult[] {
  const list = Array.isArray(result)
    ? result
    : result !== null && typeof result === 'object'
      ? ((result as { subscriptions?: unknown }).subscriptions ?? (result as { channels?: unknown }).channels)
      : undefined
  if (Array.isArray(list)) {
    const parsed: SubscribeResult[] = []
    for (const item of list) {
      const r = parseSubscribeResult(item)
      if (r !== undefined) parsed.push(r)
    }
    if (parsed.length > 0) return parsed
  }
  // A bare `ok`: every channel of the frame is subscribed.
  return channels.map((channel) => ({ ok: true as const, channel, recovered: false }))
}
