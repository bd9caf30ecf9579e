import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib'
import { AgentwireError, ErrorCode } from 'agentwire/protocol'
import type { AgentEvent } from 'agentwire/protocol'
import type { Broker } from 'agentwire/server'
import { createAckWindow, type AckWindow } from './ack-window'
import { decodeExchangeMessage, type ExchangeDialect } from './decode'

/**
 * Ingest of a RabbitMQ topic exchange, as the progress seed's agents publish to it
 * (`agent.events`, routing key `executor.step.progress`) and the webgui ADR's agents already do:
 * every message becomes canonical events published through the broker (or a gateway), so they
 * get positions, replay and snapshots.
 *
 * Nothing RabbitMQ holds is lost. The queue is durable and keeps its name, so what is published
 * while no gateway consumes waits in it. A message is acknowledged only after the broker
 * accepted every event it became, and in arrival order (ack-window.ts): a gateway that crashes,
 * a connection or channel that drops, or a publish the broker refuses leaves the message and
 * everything after it unacknowledged, and RabbitMQ delivers them again, in order, to the next
 * consumer. The ingester reconnects with full-jitter backoff, declares again what it needs, and
 * resumes only once the publishes of the lost session have settled, so a redelivered message
 * whose `messageId` it already published is acknowledged without being published twice.
 * Without a `messageId` a redelivery after such a loss is published again: at least once.
 *
 * The queue has a single active consumer, so several gateways may run this on one queue: one
 * consumes, in order, and another takes over when it goes. Messages survive a RabbitMQ restart
 * only if their publishers sent them persistent (`deliveryMode: 2`), as for any durable queue.
 * Malformed messages, and messages whose events the gateway refuses for good (a channel or an
 * event it does not accept), are rejected without requeue (to the queue's dead-letter exchange,
 * if you give it one), counted and reported without their content.
 */
export interface RabbitIngestOptions {
  /** AMQP URL, e.g. `amqp://guest:guest@127.0.0.1:5672`. */
  url: string
  /** The topic exchange the agents publish to; declared (durable) when absent. @default 'agent.events' */
  exchange?: string
  /** Declare the exchange (durable, topic); `false` only checks that it exists, for one declared otherwise. @default true */
  declareExchange?: boolean
  /** Binding keys of the queue on the exchange (topic patterns). @default ['#'] */
  bindings?: readonly string[]
  /** The durable queue this ingester consumes; keep it stable so that nothing is lost between runs. @default 'agentwire.ingest' */
  queue?: string
  /** Queue arguments, over `{ 'x-single-active-consumer': true }` (e.g. `'x-dead-letter-exchange'`, `'x-queue-type'`). Must match an existing queue's. @default {} */
  queueArguments?: Record<string, unknown>
  /** How a message becomes canonical events (decode.ts). @default 'progress' */
  dialect?: ExchangeDialect
  /** Messages delivered and not yet acknowledged, at most (AMQP prefetch): bounds memory and publishes in flight. @default 100 */
  prefetch?: number
  /** Reconnect backoff towards RabbitMQ, full jitter. @default { initialDelayMs: 100, maxDelayMs: 5000 } */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number }
  /** AMQP heartbeat: a link silent for about twice this is dropped and reconnected. @default 10 */
  heartbeatSeconds?: number
  /** Message ids remembered to recognise a redelivery already published. @default 10000 */
  dedupeWindow?: number
  /** The connection's name in RabbitMQ's management tools. @default 'agentwire ingest' */
  connectionName?: string
  /** Where malformed messages and failures are reported (never with a message's content). @default console.warn, at most once per second */
  onError?: (error: Error) => void
}

export interface RabbitIngestStats {
  /** Whether a channel is open and consuming. */
  readonly connected: boolean
  /** Deliveries from the queue, redeliveries included. */
  readonly received: number
  /** Deliveries RabbitMQ marked as redelivered. */
  readonly redelivered: number
  /** Canonical events the broker accepted. */
  readonly published: number
  /** Messages acknowledged: their events published, or none to publish. An acknowledgement lost with its channel is sent again for the redelivery, so across a loss this can pass the messages sent. */
  readonly acked: number
  /** Redelivered messages whose `messageId` was already published: acknowledged, not published again. */
  readonly duplicates: number
  /** Messages that were not JSON or not the dialect's shape: rejected without requeue. */
  readonly malformed: number
  /** Messages whose events the broker or gateway refused for good (`invalid_channel`, `bad_request`): rejected without requeue. */
  readonly refused: number
  /** Well-formed messages with no canonical event (a `state` answer, an unknown type). */
  readonly ignored: number
  /** Publishes that failed for a while (Redis away, the broker closing): each ends the session, and the message comes again. */
  readonly failed: number
  /** Deliveries of the current session not yet acknowledged (at most `prefetch`). */
  readonly pending: number
  /** Sessions (connection + channel) lost: closed by RabbitMQ, dropped, or ended by a refused publish. */
  readonly lost: number
  /** Sessions opened after the first. */
  readonly reconnects: number
}

export interface RabbitIngest {
  stats(): RabbitIngestStats
  /** Stops consuming, waits for the publishes in flight and acknowledges them, then closes the connection. */
  close(): Promise<void>
}

/** Where the ingested events go: a broker, or a gateway (`gateway.publish`). */
export type IngestTarget = Pick<Broker, 'publish'>

/** One connection and its channel; a new one after every loss. */
interface Session {
  readonly model: ChannelModel
  readonly channel: Channel
  readonly window: AckWindow<ConsumeMessage>
  consumerTag: string
  dead: boolean
}

/**
 * Starts consuming; resolves once the first session is up, and rejects if that first attempt
 * fails (a wrong URL, credentials or queue arguments show at startup). Every later loss is
 * retried without end.
 */
export async function ingestRabbitMQ(target: IngestTarget, options: RabbitIngestOptions): Promise<RabbitIngest> {
  const exchange = options.exchange ?? 'agent.events'
  const queue = options.queue ?? 'agentwire.ingest'
  const bindings = options.bindings ?? ['#']
  const dialect = options.dialect ?? 'progress'
  const prefetch = Math.max(1, options.prefetch ?? 100)
  const dedupeWindow = Math.max(0, options.dedupeWindow ?? 10_000)
  const report = options.onError ?? throttledWarn()
  const url = withHeartbeat(options.url, options.heartbeatSeconds ?? 10)

  const stats = { received: 0, redelivered: 0, published: 0, acked: 0, duplicates: 0, malformed: 0, refused: 0, ignored: 0, failed: 0, lost: 0, reconnects: 0 }
  const inflight = new Set<Promise<unknown>>()
  /** Message ids whose events the broker accepted, oldest first (Map order), at most `dedupeWindow`. */
  const published = new Map<string, true>()
  let session: Session | undefined
  let closed = false
  let wake: (() => void) | undefined

  async function open(): Promise<Session> {
    const model = await connect(url, { clientProperties: { connection_name: options.connectionName ?? 'agentwire ingest' } })
    // An 'error' nobody listens to is thrown at the process; during setup the failing call rejects anyway.
    model.on('error', () => undefined)
    try {
      const channel = await model.createChannel()
      channel.on('error', () => undefined)
      if (options.declareExchange ?? true) await channel.assertExchange(exchange, 'topic', { durable: true })
      else await channel.checkExchange(exchange)
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-single-active-consumer': true, ...options.queueArguments } })
      for (const key of bindings) await channel.bindQueue(queue, exchange, key)
      await channel.prefetch(prefetch)
      const s: Session = { model, channel, window: createAckWindow<ConsumeMessage>(), consumerTag: '', dead: false }
      // Before consume: a loss from here on ends this session and starts the next.
      model.on('error', (err: Error) => lose(s, err))
      model.on('close', (err?: Error) => lose(s, err ?? new Error('the connection closed')))
      channel.on('error', (err: Error) => lose(s, err))
      channel.on('close', () => lose(s, new Error('the channel closed')))
      const { consumerTag } = await channel.consume(queue, (msg) => onMessage(s, msg), { noAck: false })
      s.consumerTag = consumerTag
      return s
    } catch (err) {
      await model.close().catch(() => undefined)
      throw err
    }
  }

  function onMessage(s: Session, msg: ConsumeMessage | null): void {
    if (s.dead) return
    // RabbitMQ cancelled the consumer (the queue was deleted): start over, declaring it again.
    if (msg === null) return lose(s, new Error(`RabbitMQ cancelled the consumer of ${queue}`))
    stats.received++
    if (msg.fields.redelivered) stats.redelivered++
    const decoded = decodeExchangeMessage(dialect, { routingKey: msg.fields.routingKey, text: msg.content.toString('utf8') })
    if (!decoded.ok) {
      stats.malformed++
      report(new Error(`rabbitmq ingest: malformed message with routing key ${printable(msg.fields.routingKey)} (${msg.content.length} bytes): ${decoded.reason}`))
      try {
        s.channel.nack(msg, false, false)
      } catch {
        // The channel is gone: the message comes again, and is rejected then.
      }
      return
    }
    s.window.open(msg)
    if ('ignored' in decoded) {
      stats.ignored++
      return settle(s, msg)
    }
    const id = typeof msg.properties.messageId === 'string' && msg.properties.messageId !== '' ? msg.properties.messageId : undefined
    if (id !== undefined && msg.fields.redelivered && published.has(id)) {
      stats.duplicates++
      return settle(s, msg)
    }
    // Issued in arrival order: the broker keeps call order per channel.
    const p = Promise.all(decoded.events.map(({ channel, event }) => publishOne(channel, event))).then(
      () => {
        stats.published += decoded.events.length
        if (id !== undefined) remember(id)
        settle(s, msg)
      },
      (err: unknown) => {
        const why = err instanceof Error ? err.message : String(err)
        if (isRefusal(err)) {
          // The gateway will never take it (a channel or event it does not accept): delivered
          // again it would fail again, for ever, and hold back the queue behind it.
          stats.refused++
          report(new Error(`rabbitmq ingest: the broker refused a message with routing key ${printable(msg.fields.routingKey)}, rejected: ${why}`))
          if (!s.dead) {
            try {
              s.channel.nack(msg, false, false)
            } catch {
              // The channel is gone: the message comes again, and is refused again.
            }
          }
          return settle(s, msg, false)
        }
        stats.failed++
        // Unacknowledged, with all after it: RabbitMQ delivers them again to the next session.
        lose(s, new AgentwireError(ErrorCode.Overloaded, `rabbitmq ingest: publishing a message failed: ${why}`, { cause: err }))
      },
    )
    inflight.add(p)
    void p.finally(() => inflight.delete(p))
  }

  /** A publish that throws instead of rejecting still fails only its own message. */
  function publishOne(channel: string, event: AgentEvent): Promise<unknown> {
    try {
      return target.publish(channel, event)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  function settle(s: Session, msg: ConsumeMessage, ack = true): void {
    const done = s.window.settle(msg, ack)
    if (done === undefined || s.dead) return
    try {
      s.channel.ack(done.upTo, true)
      stats.acked += done.count
    } catch (err) {
      lose(s, err instanceof Error ? err : new Error(String(err)))
    }
  }

  function remember(id: string): void {
    if (dedupeWindow === 0) return
    published.delete(id)
    published.set(id, true)
    if (published.size > dedupeWindow) published.delete(published.keys().next().value!)
  }

  function lose(s: Session, err: Error): void {
    if (s.dead) return
    s.dead = true
    if (session === s) session = undefined
    if (closed) return
    stats.lost++
    report(new Error(`rabbitmq ingest: session lost, reconnecting: ${err.message}`))
    // The channel first, when it is still open: RabbitMQ then takes the acknowledgements already
    // sent on it before it requeues the rest, instead of delivering those messages again.
    s.channel
      .close()
      .catch(() => undefined)
      .finally(() => s.model.close().catch(() => undefined))
    reconnect()
  }

  /** The reconnect loop while it runs: one at a time, and a session lost while the loop opens it is seen by the loop itself. */
  let reconnecting: Promise<void> | undefined
  function reconnect(): void {
    if (reconnecting) return
    reconnecting = reconnectLoop().finally(() => (reconnecting = undefined))
  }

  async function reconnectLoop(): Promise<void> {
    for (let attempt = 0; !closed; attempt++) {
      // The lost session's publishes settle first, so that its redeliveries can be recognised.
      await Promise.allSettled([...inflight])
      await pause(backoff(attempt, options.reconnect))
      if (closed) return
      let s: Session
      try {
        s = await open()
      } catch (err) {
        report(new Error(`rabbitmq ingest: reconnect failed: ${err instanceof Error ? err.message : String(err)}`))
        continue
      }
      if (closed) {
        s.dead = true
        await s.model.close().catch(() => undefined)
        return
      }
      if (s.dead) continue
      session = s
      stats.reconnects++
      return
    }
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (closed) return resolve()
      const timer = setTimeout(() => {
        wake = undefined
        resolve()
      }, ms)
      wake = () => {
        clearTimeout(timer)
        wake = undefined
        resolve()
      }
    })
  }

  try {
    session = await open()
  } catch (err) {
    throw new AgentwireError(ErrorCode.Overloaded, `rabbitmq ingest: could not start consuming ${queue} on ${exchange}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }

  return {
    stats: () => ({ connected: session !== undefined && !session.dead, pending: session?.window.size ?? 0, ...stats }),
    async close() {
      if (closed) return
      closed = true
      wake?.()
      const s = session
      session = undefined
      if (s && !s.dead) await s.channel.cancel(s.consumerTag).catch(() => undefined)
      await Promise.allSettled([...inflight])
      if (s && !s.dead) {
        s.dead = true
        await s.model.close().catch(() => undefined)
      }
      await reconnecting
    },
  }
}

/**
 * Whether a failed publish will fail the same way every time: the channel or the event is not
 * one the broker or gateway accepts. Anything else (Redis away, a closed broker) may pass later.
 */
function isRefusal(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined
  return code === ErrorCode.InvalidChannel || code === ErrorCode.BadRequest
}

/** Full-jitter backoff in [initial, min(max, initial·2^attempt)]. */
function backoff(attempt: number, options: { initialDelayMs?: number; maxDelayMs?: number } = {}): number {
  const initial = Math.max(1, options.initialDelayMs ?? 100)
  const max = Math.max(initial, options.maxDelayMs ?? 5000)
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 31))
  return Math.round(initial + Math.random() * (ceiling - initial))
}

/** The URL with an AMQP heartbeat, unless it names one itself. */
function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url)
  if (parsed.searchParams.has('heartbeat')) return url
  parsed.searchParams.set('heartbeat', String(Math.max(1, Math.round(seconds))))
  return parsed.toString()
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
