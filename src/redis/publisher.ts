import { createClient } from 'redis'
import { AgentwireError, ErrorCode, createEventCheck, parseChannel } from 'agentwire/protocol'
import type { AgentEvent, AnyEventDefinitions, UserEvent } from 'agentwire/protocol'
import type { RetentionOptions, StoredEvent } from 'agentwire/server'
import { brokerError } from './broker-error'
import { closeClient, connectionOptions, type RedisClient, type RedisReconnectOptions } from './connection'
import { createLogWriter } from './log-writer'
import { keysFor } from './redis-log'

/**
 * The publishing half of the Redis broker, for agent processes: no subscriber connection, no
 * cursors, one Redis connection. It appends through the same Lua script as `redisBroker`, so an
 * event published here gets its position and updates the channel's snapshot exactly as if a
 * gateway had published it.
 *
 * ```ts
 * const publisher = createPublisher({ url: 'redis://127.0.0.1:6379' })
 * await publisher.publish('agent:planner', { type: 'agent.status', payload: { name: 'planner', status: 'busy' } })
 * ```
 */
export interface PublisherOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  url: string
  /** Must equal the gateways' broker prefix. @default 'agentwire' */
  prefix?: string
  /** Must equal the gateways' broker retention (the writer trims the log). @default { size: 1000, maxAgeMs: 120000 } */
  retention?: RetentionOptions
  /** Reconnect backoff towards Redis. @default { initialDelayMs: 50, maxDelayMs: 1000 } */
  reconnect?: RedisReconnectOptions
  /** Where connection errors go between publishes (a failed publish rejects instead). @default ignored: the next publish reports it */
  onError?: (error: Error) => void
  /** The clock that stamps `StoredEvent.time`. @default Date.now */
  now?: () => number
  /**
   * The application's event types and reducers (`defineEvents`), as the gateways have them:
   * their events are validated here, and the reducers' state goes into the snapshot. Any
   * other type is refused (`unknown_event`).
   * @default built-in events only
   */
  events?: AnyEventDefinitions
  /**
   * Batching in time, per channel, for a publisher that sends often: while a channel is busy,
   * at most one script call per `coalesceMs`, the events published meanwhile joining it (fewer
   * calls: less CPU per event here and in Redis, for up to this much more latency). A channel
   * idle for `coalesceMs` sends at once; 0 batches only what is published in the same turn or
   * while a call is in flight. @default 0
   */
  coalesceMs?: number
}

export interface Publisher {
  /**
   * Validates the channel (concrete, canonicalised) and the event (the canonical schema), then
   * appends it. Resolves with its position; rejects with an `AgentwireError` (`invalid_channel`,
   * `bad_request`) before anything is sent, or a `BrokerError` while Redis is unreachable (the
   * event may or may not have been stored if the connection dropped mid-call).
   */
  publish(channel: string, event: AgentEvent | UserEvent): Promise<StoredEvent>
  /** Quits the connection; queued publishes reject. */
  close(): Promise<void>
}

export function createPublisher(options: PublisherOptions): Publisher {
  const keys = keysFor(options.prefix ?? 'agentwire')
  const client = createClient(connectionOptions(options.url, options.reconnect, false)) as RedisClient
  const report = options.onError ?? (() => undefined)
  // node-redis throws 'error' events at the process when nobody listens.
  client.on('error', (err: Error) => report(brokerError('redis (publisher)', err)))
  let connected = false
  const connecting = client.connect().then(() => void (connected = true))
  connecting.catch(() => undefined)
  const writer = createLogWriter(client, {
    keys,
    size: options.retention?.size ?? 1000,
    maxAgeMs: options.retention?.maxAgeMs ?? 120_000,
    now: options.now ?? Date.now,
    ...(options.events ? { events: options.events } : {}),
    ...(options.coalesceMs ? { coalesceMs: options.coalesceMs } : {}),
  })
  const checkEvent = createEventCheck(options.events)
  /** A channel's check, by name: the same few channels are published to again and again. */
  const channels = new Map<string, string>()
  let closed = false

  async function publishLater(channel: string, event: AgentEvent): Promise<StoredEvent> {
    await connecting
    return writer.publish(channel, event)
  }

  return {
    publish(channel, event) {
      try {
        let name = channels.get(channel)
        if (name === undefined) {
          const parsed = parseChannel(channel)
          if (!parsed.ok) throw new AgentwireError(ErrorCode.InvalidChannel, parsed.reason)
          if (parsed.pattern) throw new AgentwireError(ErrorCode.InvalidChannel, `publish needs a concrete channel, got the pattern "${parsed.channel}"`)
          name = parsed.channel
          if (channels.size >= 1000) channels.clear()
          channels.set(channel, name)
        }
        const checked = checkEvent(event) as AgentEvent
        if (closed) throw new AgentwireError(ErrorCode.Closed, 'publish after close(); create a new publisher')
        return connected ? writer.publish(name, checked) : publishLater(name, checked)
      } catch (err) {
        return Promise.reject(err)
      }
    },
    async close() {
      if (closed) return
      closed = true
      writer.close()
      await closeClient(client)
    },
  }
}
