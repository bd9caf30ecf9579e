import { createClient } from 'redis'
import { AgentEventSchema, AgentwireError, ErrorCode, parseChannel } from 'agentwire/protocol'
import type { AgentEvent } from 'agentwire/protocol'
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
}

export interface Publisher {
  /**
   * Validates the channel (concrete, canonicalised) and the event (the canonical schema), then
   * appends it. Resolves with its position; rejects with an `AgentwireError` (`invalid_channel`,
   * `bad_request`) before anything is sent, or a `BrokerError` while Redis is unreachable (the
   * event may or may not have been stored if the connection dropped mid-call).
   */
  publish(channel: string, event: AgentEvent): Promise<StoredEvent>
  /** Quits the connection; queued publishes reject. */
  close(): Promise<void>
}

export function createPublisher(options: PublisherOptions): Publisher {
  const keys = keysFor(options.prefix ?? 'agentwire')
  const client = createClient(connectionOptions(options.url, options.reconnect, false)) as RedisClient
  const report = options.onError ?? (() => undefined)
  // node-redis throws 'error' events at the process when nobody listens.
  client.on('error', (err: Error) => report(brokerError('redis (publisher)', err)))
  const connecting = client.connect()
  connecting.catch(() => undefined)
  const writer = createLogWriter(client, {
    keys,
    size: options.retention?.size ?? 1000,
    maxAgeMs: options.retention?.maxAgeMs ?? 120_000,
    now: options.now ?? Date.now,
  })
  let closed = false

  return {
    async publish(channel, event) {
      const check = parseChannel(channel)
      if (!check.ok) throw new AgentwireError(ErrorCode.InvalidChannel, check.reason)
      if (check.pattern) throw new AgentwireError(ErrorCode.InvalidChannel, `publish needs a concrete channel, got the pattern "${check.channel}"`)
      const parsed = AgentEventSchema.safeParse(event)
      if (!parsed.success) {
        const issue = parsed.error.issues[0]
        const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : ''
        throw new AgentwireError(ErrorCode.BadRequest, `publish expects a canonical event${where}: ${issue?.message ?? 'invalid'}`, {
          path: (issue?.path ?? []).filter((p): p is string | number => typeof p !== 'symbol'),
        })
      }
      if (closed) throw new AgentwireError(ErrorCode.Closed, 'publish after close(); create a new publisher')
      await connecting
      return writer.publish(check.channel, parsed.data as AgentEvent)
    },
    async close() {
      if (closed) return
      closed = true
      writer.close()
      await closeClient(client)
    },
  }
}
