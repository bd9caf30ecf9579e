import { createClient } from 'redis'
import { AgentEventSchema, parseChannel } from 'agentwire/protocol'
import type { AgentEvent } from 'agentwire/protocol'
import type { Broker } from './broker'
import { brokerError, closeClient, connectionOptions, type RedisClient, type RedisReconnectOptions } from './redis-log'

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

/** The routing engine's Redis channels and the message type each carries. */
const ROUTING_CHANNELS = { 'task:routing': 'routing_decision', 'agent:status': 'agent_status' } as const
const WEBGUI_PATTERN = 'webgui:*'

type Decoded = { ok: true; events: Array<{ channel: string; event: AgentEvent }> } | { ok: false; reason: string } | { ok: true; events: []; ignored: true }

export async function ingestSeedChannels(broker: Broker, options: IngestOptions): Promise<Ingest> {
  const report = options.onError ?? throttledWarn()
  const stats = { received: 0, published: 0, malformed: 0, ignored: 0, failed: 0 }
  const inflight = new Set<Promise<unknown>>()
  const client = createClient(connectionOptions(options.url, options.reconnect, true)) as RedisClient
  client.on('error', (err: Error) => report(brokerError('redis (ingest connection)', err)))
  await client.connect()

  const onMessage = (message: string, redisChannel: string) => {
    stats.received++
    let decoded: Decoded
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

/** One seed message to canonical events on canonical channels. Exported for tests of the mapping. */
export function decodeSeedMessage(redisChannel: string, text: string): Decoded {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, reason: 'not JSON' }
  }
  if (!isObj(value)) return { ok: false, reason: 'not a JSON object' }
  const routingKind = Object.prototype.hasOwnProperty.call(ROUTING_CHANNELS, redisChannel) ? ROUTING_CHANNELS[redisChannel as keyof typeof ROUTING_CHANNELS] : undefined
  if (routingKind) {
    // `{ type, payload }` as on the seed's WebSocket, or the bare payload.
    const payload = value.type === routingKind && 'payload' in value ? value.payload : value
    if (routingKind === 'routing_decision') return one('routing.decision', payload, (p) => `task:${String(p.taskId)}`)
    return one('agent.status', payload, (p) => `agent:${String(p.name)}`)
  }
  if (redisChannel.startsWith('webgui:')) return decodeWebgui(redisChannel, value)
  return { ok: false, reason: 'not a seed channel' }
}

function decodeWebgui(redisChannel: string, value: Obj): Decoded {
  const channel = webguiChannel(redisChannel)
  if (!channel) return { ok: false, reason: 'unknown webgui channel' }
  const data: Obj = isObj(value.data) ? value.data : {}
  const timestamp = value.timestamp
  const at = () => channel
  switch (value.type) {
    case 'session_status_changed':
      return one('session.status', { sessionId: value.session_id ?? channel.slice('session:'.length), status: data.status, progress: data.progress, message: data.message, timestamp }, at)
    case 'agent_status_changed':
      return one('agent.status', { name: data.agent ?? data.name, status: data.status, load: data.load, timestamp }, at)
    case 'task_progress':
      return one('task.progress', { taskId: data.task_id, progress: data.progress, message: data.message, step: data.step, agent: data.agent, timestamp }, at)
    case 'notification':
      return one('system.notification', { level: data.level ?? 'info', message: data.message, title: data.title, details: data.details, sessionId: value.session_id, userId: data.user_id, timestamp }, at)
    case 'metrics_update':
      return one('metrics.snapshot', { scope: data.scope ?? 'system', name: data.name, values: data.values, timestamp }, at)
    case 'ping':
    case 'pong':
      return { ok: true, events: [], ignored: true }
    default:
      return typeof value.type === 'string' ? { ok: true, events: [], ignored: true } : { ok: false, reason: 'no "type"' }
  }
}

/** `webgui:session:123` → `session:123`, `webgui:global` → `global`. */
function webguiChannel(redisChannel: string): string | undefined {
  const rest = redisChannel.slice('webgui:'.length)
  const candidate = rest === 'global' ? 'global' : rest
  if (candidate !== 'global' && !/^(session|agent|user):/.test(candidate)) return undefined
  const check = parseChannel(candidate)
  return check.ok && !check.pattern ? check.channel : undefined
}

function one(type: AgentEvent['type'], payload: unknown, channelOf: (p: Obj) => string): Decoded {
  const clean = isObj(payload) ? withoutUndefined(payload) : payload
  const parsed = AgentEventSchema.safeParse({ type, payload: clean })
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { ok: false, reason: `not a valid ${type}${issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}` }
  }
  const event = parsed.data as AgentEvent
  const check = parseChannel(channelOf(event.payload as unknown as Obj))
  if (!check.ok || check.pattern) return { ok: false, reason: `names no valid channel: ${check.ok ? 'a pattern' : check.reason}` }
  return { ok: true, events: [{ channel: check.channel, event }] }
}

type Obj = Record<string, unknown>
function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}
function withoutUndefined(o: Obj): Obj {
  const out: Obj = {}
  for (const k of Object.keys(o)) {
    // A parsed `__proto__` key would set this object's prototype on assignment.
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue
    if (o[k] !== undefined && o[k] !== null) out[k] = o[k]
  }
  return out
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
