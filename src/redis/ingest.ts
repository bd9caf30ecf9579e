import { createClient } from 'redis'
import { decodeRoutingRedis, decodeWebguiRedis, isEventType } from 'agentwire/protocol'
import type { AgentEvent } from 'agentwire/protocol'
import type { Broker } from 'agentwire/server'
import { brokerError } from './broker-error'
import { closeClient, connectionOptions, type RedisClient, type RedisReconnectOptions } from './connection'
import { hasKey } from '../protocol/records'

/**
 * Ingest of the seed backends' Redis Pub/Sub channels, as those backends publish them:
 * - routing: `task:routing` (`routing_decision`) and `agent:status` (`agent_status`), each a
 *   `{ type, payload }` JSON message or the bare payload;
 * - webgui: `webgui:session:{id}`, `webgui:agent:{name}`, `webgui:global`, `webgui:user:{id}`,
 *   each a `{ type, timestamp, session_id, data }` JSON message.
 * Every message becomes canonical events published through the broker, so they get positions,
 * replay and snapshots; a routing engine built as its seed describes works unchanged.
 *
 * Run one ingester per broker prefix (one gateway, or a process of its own): Pub/Sub hands
 * every message to every subscriber, so two ingesters would publish everything twice. What
 * the seeds publish while the ingester is disconnected from Redis is lost — their Pub/Sub is
 * at-most-once; once published through the broker an event is positioned and durable.
 * Malformed messages are counted and reported without their content, never thrown.
 */
export interface IngestOptions {
  /** Redis URL the seed backends publish to. */
  url: string
  /** Ingest `task:routing` and `agent:status`. @default true */
  routing?: boolean
  /** Ingest `webgui:*`. @default true */
  webgui?: boolean
  /** Reconnect backoff towards Redis. @default { initialDelayMs: 50, maxDelayMs: 1000 } */
  reconnect?: RedisReconnectOptions
  /** Where malformed messages and failures are reported (never with the message's content). @default console.warn, at most once per second */
  onError?: (error: Error) => void
}

export interface IngestStats {
  /** Messages received from the seed channels. */
  readonly received: number
  /** Canonical events the broker accepted. */
  readonly published: number
  /** Messages that were not JSON or not the seed's shape. */
  readonly malformed: number
  /** Well-formed messages of a type with no canonical event (e.g. a webgui `ping`). */
  readonly ignored: number
  /** Events the broker refused (Redis down): counted, reported, not retried. */
  readonly failed: number
}

export interface Ingest {
  stats(): IngestStats
  /** Unsubscribes and quits the connection; waits for publishes already handed to the broker. */
  close(): Promise<void>
}

/** The routing engine's Redis channels (the protocol's `ROUTING_REDIS_CHANNELS` says what each carries). */
const ROUTING_CHANNELS = { 'task:routing': true, 'agent:status': true } as const
const WEBGUI_PATTERN = 'webgui:*'

/** What one seed message became: canonical events, nothing worth publishing, or a malformed message (with a reason that never quotes it). */
export type SeedDecodeResult = { ok: true; events: Array<{ channel: string; event: AgentEvent }> } | { ok: false; reason: string } | { ok: true; events: []; ignored: true }

export async function ingestSeedChannels(broker: Broker, options: IngestOptions): Promise<Ingest> {
  const report = options.onError ?? throttledWarn()
  const stats = { received: 0, published: 0, malformed: 0, ignored: 0, failed: 0 }
  const inflight = new Set<Promise<unknown>>()
  const client = createClient(connectionOptions(options.url, options.reconnect, true)) as RedisClient
  client.on('error', (err: Error) => report(brokerError('redis (ingest connection)', err)))
  await client.connect()

  const onMessage = (message: string, redisChannel: string) => {
    stats.received++
    let decoded: SeedDecodeResult
    try {
      decoded = decodeSeedMessage(redisChannel, message)
    } catch {
      decoded = { ok: false, reason: 'the decoder failed' }
    }
    if (!decoded.ok) {
      stats.malformed++
      report(new Error(`ingest: malformed message on ${printable(redisChannel)} (${message.length} characters): ${decoded.reason}`))
      return
    }
    if ('ignored' in decoded) {
      stats.ignored++
      return
    }
    for (const { channel, event } of decoded.events) {
      // Published in arrival order: the broker keeps call order per channel.
      const p = broker.publish(channel, event).then(
        () => void stats.published++,
        (err: unknown) => {
          stats.failed++
          report(brokerError(`ingest publish on ${channel}`, err))
        },
      )
      inflight.add(p)
      void p.finally(() => inflight.delete(p))
    }
  }

  try {
    if (options.routing ?? true) await client.subscribe(Object.keys(ROUTING_CHANNELS), onMessage)
    if (options.webgui ?? true) await client.pSubscribe(WEBGUI_PATTERN, onMessage)
  } catch (err) {
    await closeClient(client)
    throw brokerError('ingest subscribe', err)
  }

  let closed = false
  return {
    stats: () => ({ ...stats }),
    async close() {
      if (closed) return
      closed = true
      await closeClient(client)
      await Promise.allSettled([...inflight])
    },
  }
}

/**
 * One seed message to canonical events on canonical channels, with the protocol's dialect
 * decoders for Redis (`decodeRoutingRedis`, `decodeWebguiRedis`): the same mapping the
 * `routing` and `webgui` codecs use on those backends' WebSockets. Never throws.
 */
export function decodeSeedMessage(redisChannel: string, text: string): SeedDecodeResult {
  const result = hasKey(ROUTING_CHANNELS, redisChannel)
    ? decodeRoutingRedis(redisChannel, text)
    : redisChannel.startsWith('webgui:')
      ? decodeWebguiRedis(redisChannel, text)
      : undefined
  if (!result) return { ok: false, reason: 'not a seed channel' }
  if (!result.ok) {
    // Code and path only: a decoder's message may quote a value from the payload.
    const at = result.error.path.length > 0 ? ` at ${result.error.path.join('.')}` : ''
    return { ok: false, reason: `${result.error.code}${at}` }
  }
  const events: Array<{ channel: string; event: AgentEvent }> = []
  for (const message of result.messages) if (message.type === 'event' && isEventType(message.event.type)) events.push({ channel: message.channel, event: message.event as AgentEvent })
  // A heartbeat, an `error` report or a type with no canonical event.
  if (events.length === 0) return { ok: true, events: [], ignored: true }
  return { ok: true, events }
}

function printable(s: string): string {
  return (s.length > 60 ? `${s.slice(0, 60)}…` : s).replace(/[^\x20-\x7e]/g, '?')
}

function throttledWarn(): (error: Error) => void {
  let last = 0
  return (error) => {
    const t = Date.now()
    if (t - last < 1000) return
    last = t
    console.warn(`[agentwire] ${error.message}`)
  }
}
