import { createHash, randomBytes } from 'node:crypto'
import type { createClient } from 'redis'
import { AgentwireError, ErrorCode, initialState, reduce } from 'agentwire/protocol'
import type { AgentEvent, AgentwireState } from 'agentwire/protocol'
import type { StoredEvent } from 'agentwire/server'

/**
 * The positioned log in Redis that `redisBroker` and `createPublisher` share: key layout, the
 * Lua scripts, and the one publish path (a per-channel group-commit writer). The design is
 * described at the top of redis-broker.ts.
 */

/** A connected node-redis client (any modules). */
export type RedisClient = ReturnType<typeof createClient>

/** How long to wait between reconnect attempts to Redis. */
export interface RedisReconnectOptions {
  /** Lower bound of every delay. @default 50 */
  initialDelayMs?: number
  /** Upper bound of every delay: the S3 promise is "resubscribed within 1 s of Redis coming back". @default 1000 */
  maxDelayMs?: number
}

/** Every failure of a Redis-backed broker or publisher: the connection is down, or Redis refused. */
export class BrokerError extends AgentwireError {
  override readonly name = 'BrokerError'
  constructor(message: string, options: { cause?: unknown; code?: ErrorCode; retryable?: boolean } = {}) {
    super(options.code ?? ErrorCode.Overloaded, message, { cause: options.cause, retryable: options.retryable ?? true })
  }
}

/** Key names under one prefix. Channel names never contain `\n`, so the notify payload can be line-framed. */
export interface Keys {
  readonly prefix: string
  meta(channel: string): string
  log(channel: string): string
  readonly channels: string
  /** The Pub/Sub channel (or, for a pattern, the PSUBSCRIBE glob) that announces new entries. */
  notify(channelOrPattern: string): string
  /** The inverse of `notify` for a concrete channel. */
  channelOfNotify(notifyChannel: string): string | undefined
}

export function keysFor(prefix: string): Keys {
  const notifyPrefix = `${prefix}:n:`
  return {
    prefix,
    meta: (c) => `${prefix}:meta:${c}`,
    log: (c) => `${prefix}:log:${c}`,
    channels: `${prefix}:channels`,
    notify: (c) => (c.endsWith('*') ? `${escapeGlob(notifyPrefix)}${escapeGlob(c.slice(0, -1))}*` : `${notifyPrefix}${c}`),
    channelOfNotify: (n) => (n.startsWith(notifyPrefix) ? n.slice(notifyPrefix.length) : undefined),
  }
}

/** Escapes Redis glob metacharacters so a prefix is matched literally. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
}

/** A fresh epoch: random, so two lives of one channel never share one. */
export function newEpoch(): string {
  return randomBytes(9).toString('base64url')
}

/**
 * Liveness of a Redis connection. TCP alone does not notice a link that went silent without
 * closing (a NAT or firewall that dropped its state, a half-open connection, a black hole): its
 * keepalive gives up after hours. So each connection sends a PING every `intervalMs`, and one on
 * which nothing has moved for `intervalMs + timeoutMs` is dropped and reconnected.
 */
export interface RedisHeartbeatOptions {
  /** A PING this often on each connection (after the previous one was answered). @default 5000 */
  intervalMs?: number
  /** How much longer than `intervalMs` a connection may stay silent before it is dropped. @default 5000 */
  timeoutMs?: number
}

/** Full-jitter backoff in [initial, min(max, initial·2^n)], exponent capped so it never overflows. */
export function reconnectDelay(attempt: number, options: RedisReconnectOptions = {}, random: () => number = Math.random): number {
  const initial = Math.max(1, options.initialDelayMs ?? 50)
  const max = Math.max(initial, options.maxDelayMs ?? 1000)
  const ceiling = Math.min(max, initial * 2 ** Math.min(Math.max(0, attempt), 31))
  return Math.round(initial + random() * (ceiling - initial))
}

// ── Lua ────────────────────────────────────────────────────────────────────────────────

/**
 * Appends a batch of events if the caller's view of the channel is current (compare-and-set on
 * epoch + seq), and stores the state the caller reduced. Position and state change in one
 * atomic step, so a snapshot is never ahead of or behind its seq.
 * KEYS: meta, log, channels. ARGV: expectEpoch, expectSeq (-1 = unknown), state, candidateEpoch,
 * time, maxLen, minTime (0 = no age limit), channel, notifyChannel, event...
 * Returns {1, epoch, firstSeq} or, when the view is stale, {0, epoch, seq, state}.
 */
const PUBLISH_SCRIPT = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  redis.call('DEL', KEYS[2])
  epoch = ARGV[4]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', '0', 'state', '')
end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local expect = tonumber(ARGV[2])
if seq ~= expect or (expect > 0 and epoch ~= ARGV[1]) then
  return {0, epoch, seq, redis.call('HGET', KEYS[1], 'state') or ''}
end
local first = seq + 1
for i = 10, #ARGV do
  seq = seq + 1
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], seq .. '-0', 't', ARGV[5], 'e', ARGV[i])
  redis.call('PUBLISH', ARGV[9], ARGV[8] .. '\\n' .. epoch .. '\\n' .. seq .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[i])
end
redis.call('HSET', KEYS[1], 'seq', seq, 'state', ARGV[3])
redis.call('SADD', KEYS[3], ARGV[8])
local minTime = tonumber(ARGV[7])
if minTime > 0 then
  local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
  if head[1] and tonumber(head[1][2][2]) < minTime then
    local batch = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 512)
    local keep = nil
    for _, entry in ipairs(batch) do
      if tonumber(entry[2][2]) >= minTime then keep = entry[1] break end
    end
    if not keep then keep = (tonumber(string.match(batch[#batch][1], '^%d+')) + 1) .. '-0' end
    redis.call('XTRIM', KEYS[2], 'MINID', keep)
  end
end
return {1, epoch, first}
`

/**
 * Reads a channel's head and the entries from a seq on, atomically.
 * KEYS: meta, log. ARGV: start seq, count (0 = all). Returns {epoch or '', seq, entries}.
 */
const READ_SCRIPT = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
local entries = {}
if epoch then
  if ARGV[2] == '0' then
    entries = redis.call('XRANGE', KEYS[2], ARGV[1] .. '-0', '+')
  else
    entries = redis.call('XRANGE', KEYS[2], ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
  end
end
return {epoch or '', seq, entries}
`

/**
 * A channel's position and state, creating its epoch if it has none (so the position a client
 * is handed can be honoured later). KEYS: meta, log. ARGV: candidateEpoch.
 */
const SNAPSHOT_SCRIPT = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  redis.call('DEL', KEYS[2])
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', '0', 'state', '')
end
return {epoch, redis.call('HGET', KEYS[1], 'seq') or '0', redis.call('HGET', KEYS[1], 'state') or ''}
`

interface Script {
  readonly source: string
  readonly sha: string
}
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') })
const SCRIPTS = { publish: script(PUBLISH_SCRIPT), read: script(READ_SCRIPT), snapshot: script(SNAPSHOT_SCRIPT) }

/** EVALSHA, falling back to EVAL when Redis lost its script cache (restart, SCRIPT FLUSH). */
async function run(client: RedisClient, s: Script, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await client.sendCommand(['EVALSHA', s.sha, String(keys.length), ...keys, ...args])
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
      return await client.sendCommand(['EVAL', s.source, String(keys.length), ...keys, ...args])
    }
    throw err
  }
}

/** Turns whatever node-redis threw into a BrokerError with a message that says what failed. */
export function brokerError(what: string, err: unknown): BrokerError {
  if (err instanceof BrokerError) return err
  const reason = err instanceof Error ? err.message : String(err)
  const replied = err instanceof Error && err.constructor.name.endsWith('ErrorReply')
  return new BrokerError(`${what} failed: ${replied ? 'Redis replied' : 'Redis unavailable'}: ${reason}`, {
    cause: err,
    code: replied ? ErrorCode.Internal : ErrorCode.Overloaded,
  })
}

// ── state as JSON ──────────────────────────────────────────────────────────────────────

/**
 * Stored state back to the shape `reduce` builds: the keyed collections are null-prototype
 * objects there (so an id like `__proto__` is an ordinary key), which JSON cannot carry.
 */
export function parseState(text: string): AgentwireState {
  const initial = initialState()
  if (text === '') return initial
  const parsed = JSON.parse(text) as Record<string, unknown>
  const out: Record<string, unknown> = { ...initial }
  for (const key of Object.keys(initial) as Array<keyof AgentwireState>) {
    if (!Object.prototype.hasOwnProperty.call(parsed, key)) continue
    const value = parsed[key]
    const template = initial[key]
    if (template !== null && typeof template === 'object' && !Array.isArray(template) && Object.getPrototypeOf(template) === null && value !== null && typeof value === 'object') {
      const bare = Object.create(null) as Record<string, unknown>
      for (const k of Object.keys(value)) bare[k] = (value as Record<string, unknown>)[k]
      out[key] = bare
    } else out[key] = value
  }
  return out as unknown as AgentwireState
}

// ── reading ────────────────────────────────────────────────────────────────────────────

export interface LogRead {
  /** '' when the channel has no epoch (never published, or its log was lost). */
  readonly epoch: string
  readonly head: number
  readonly events: StoredEvent[]
}

export async function readLog(client: RedisClient, keys: Keys, channel: string, fromSeq: number, count: number): Promise<LogRead> {
  const reply = (await run(client, SCRIPTS.read, [keys.meta(channel), keys.log(channel)], [String(fromSeq), String(count)])) as [string, string, Array<[string, string[]]>]
  const [epoch, head, entries] = reply
  const events: StoredEvent[] = []
  for (const [id, fields] of entries) {
    let time = 0
    let text = ''
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 't') time = Number(fields[i + 1])
      else if (fields[i] === 'e') text = fields[i + 1] ?? ''
    }
    events.push({ channel, epoch, seq: Number.parseInt(id, 10), time, event: JSON.parse(text) as AgentEvent })
  }
  return { epoch, head: Number(head), events }
}

export async function readSnapshot(client: RedisClient, keys: Keys, channel: string): Promise<{ epoch: string; seq: number; state: AgentwireState }> {
  const [epoch, seq, state] = (await run(client, SCRIPTS.snapshot, [keys.meta(channel), keys.log(channel)], [newEpoch()])) as [string, string, string]
  return { epoch, seq: Number(seq), state: parseState(state) }
}

// ── writing ────────────────────────────────────────────────────────────────────────────

export interface LogWriterOptions {
  readonly keys: Keys
  /** Events kept per channel (XADD MAXLEN ~). */
  readonly size: number
  /** Entries older than this are trimmed on the next publish; 0 keeps them until `size` pushes them out. */
  readonly maxAgeMs: number
  readonly now: () => number
  /** Most events sent in one script call. @default 256 */
  readonly maxBatch?: number
  /** Channels whose last state is kept in memory to skip a read before publishing. @default 1000 */
  readonly maxCachedChannels?: number
}

export interface LogWriter {
  publish(channel: string, event: AgentEvent): Promise<StoredEvent>
  /** Rejects what is queued; later publishes reject too. */
  close(): void
}

interface Pending {
  readonly event: AgentEvent
  readonly text: string
  resolve(stored: StoredEvent): void
  reject(err: unknown): void
}

interface ChannelLog {
  view: { epoch: string; seq: number; state: AgentwireState } | undefined
  readonly queue: Pending[]
  running: boolean
}

/** Compare-and-set attempts before a batch is given up (each failure means another writer got in first). */
const MAX_ATTEMPTS = 64

/**
 * The one publish path. Per channel, calls queue while a script call is in flight and go out
 * together in the next one (group commit), so order is call order and throughput does not
 * pay one round trip per event. The writer reduces the state itself (Lua cannot run `reduce`)
 * and the script stores it only if nobody else appended since the writer last looked.
 */
export function createLogWriter(client: RedisClient, options: LogWriterOptions): LogWriter {
  const { keys } = options
  const maxBatch = options.maxBatch ?? 256
  const maxCached = options.maxCachedChannels ?? 1000
  const logs = new Map<string, ChannelLog>()
  let closed = false

  function logOf(channel: string): ChannelLog {
    let log = logs.get(channel)
    if (log) {
      // Re-insert: Map order is then least recently used first, for eviction.
      logs.delete(channel)
      logs.set(channel, log)
      return log
    }
    // Evict idle channels before inserting: a new entry is idle too (its queue is still empty),
    // and evicting it would let the next publish on the channel start a second drain beside
    // the first, whose batches then race each other out of call order. While every cached
    // channel is busy the map grows past maxCached; the next calls shrink it back.
    if (logs.size >= maxCached) {
      for (const [name, other] of logs) {
        if (logs.size < maxCached) break
        if (!other.running && other.queue.length === 0) logs.delete(name)
      }
    }
    log = { view: undefined, queue: [], running: false }
    logs.set(channel, log)
    return log
  }

  async function drain(channel: string, log: ChannelLog): Promise<void> {
    log.running = true
    try {
      while (log.queue.length > 0) {
        const batch = log.queue.splice(0, maxBatch)
        try {
          const stored = await appendBatch(channel, log, batch)
          batch.forEach((p, i) => p.resolve(stored[i]!))
        } catch (err) {
          // Unknown whether the script ran: forget the view so the next call re-reads it.
          log.view = undefined
          const error = brokerError(`publish on ${channel}`, err)
          for (const p of batch) p.reject(error)
        }
      }
    } finally {
      log.running = false
    }
  }

  async function appendBatch(channel: string, log: ChannelLog, batch: Pending[]): Promise<StoredEvent[]> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (closed) throw new BrokerError('publish after close()', { code: ErrorCode.Closed, retryable: false })
      const view = log.view
      let state = view?.state ?? initialState()
      for (const p of batch) state = reduce(state, p.event)
      const time = options.now()
      const args = [
        view?.epoch ?? '',
        String(view?.seq ?? -1),
        JSON.stringify(state),
        newEpoch(),
        String(time),
        String(options.size),
        String(options.maxAgeMs > 0 ? time - options.maxAgeMs : 0),
        channel,
        keys.notify(channel),
        ...batch.map((p) => p.text),
      ]
      const reply = (await run(client, SCRIPTS.publish, [keys.meta(channel), keys.log(channel), keys.channels], args)) as [number, string, number, string?]
      const [ok, epoch, seq] = reply
      if (ok === 1) {
        log.view = { epoch, seq: seq + batch.length - 1, state }
        return batch.map((p, i) => ({ channel, epoch, seq: seq + i, time, event: p.event }))
      }
      log.view = { epoch, seq: Number(seq), state: parseState(reply[3] ?? '') }
    }
    throw new BrokerError(`publish on ${channel} lost ${MAX_ATTEMPTS} races with other writers in a row`, { code: ErrorCode.Conflict })
  }

  return {
    publish(channel, event) {
      if (closed) return Promise.reject(new BrokerError('publish after close()', { code: ErrorCode.Closed, retryable: false }))
      return new Promise<StoredEvent>((resolve, reject) => {
        const log = logOf(channel)
        log.queue.push({ event, text: JSON.stringify(event), resolve, reject })
        if (!log.running) void drain(channel, log)
      })
    },
    close() {
      closed = true
      const error = new BrokerError('publish after close()', { code: ErrorCode.Closed, retryable: false })
      for (const log of logs.values()) for (const p of log.queue.splice(0)) p.reject(error)
    },
  }
}

/** Parses one notify message: `channel\nepoch\nseq\ntime\nevent-json`. */
export function parseNotify(message: string): { channel: string; epoch: string; seq: number; time: number; text: string } | undefined {
  const a = message.indexOf('\n')
  const b = message.indexOf('\n', a + 1)
  const c = message.indexOf('\n', b + 1)
  const d = message.indexOf('\n', c + 1)
  if (a < 0 || b < 0 || c < 0 || d < 0) return undefined
  const seq = Number(message.slice(b + 1, c))
  const time = Number(message.slice(c + 1, d))
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined
  return { channel: message.slice(0, a), epoch: message.slice(a + 1, b), seq, time, text: message.slice(d + 1) }
}

/**
 * node-redis options shared by every connection agentwire opens. `heartbeat` (on unless
 * `false`) is node-redis's `pingInterval` plus a `socketTimeout` of interval + timeout: a PING
 * written counts as movement too, so a link is dropped between `interval + timeout` and
 * `2 × interval + timeout` after the last byte it received.
 */
export function connectionOptions(url: string, reconnect: RedisReconnectOptions | undefined, offlineQueue: boolean, heartbeat?: RedisHeartbeatOptions | false) {
  const beat = heartbeat === false ? undefined : { intervalMs: Math.max(1, heartbeat?.intervalMs ?? 5000), timeoutMs: Math.max(1, heartbeat?.timeoutMs ?? 5000) }
  return {
    url,
    // Commands while disconnected fail at once (the caller decides), except on the
    // subscriber connection, whose SUBSCRIBEs should simply happen once Redis is back.
    disableOfflineQueue: !offlineQueue,
    ...(beat ? { pingInterval: beat.intervalMs } : {}),
    socket: {
      // An attempt that timed out (connected, then no answer: a black hole, a stalled Redis)
      // has already waited its socket timeout: the next one starts after the shortest delay,
      // so the link is back soon after the path heals instead of one more backoff later.
      reconnectStrategy: (retries: number, cause?: unknown) => (isSocketTimeout(cause) ? reconnectDelay(0, reconnect) : reconnectDelay(retries, reconnect)),
      keepAlive: true,
      ...(beat ? { socketTimeout: beat.intervalMs + beat.timeoutMs } : {}),
    },
  }
}

/** node-redis's SocketTimeoutError (by name: the class is not part of its public exports in every version). */
function isSocketTimeout(error: unknown): boolean {
  return error instanceof Error && error.constructor.name === 'SocketTimeoutError'
}

/** Closes a client without hanging on a dead connection. */
export async function closeClient(client: RedisClient): Promise<void> {
  if (!client.isOpen) return
  if (!client.isReady) {
    client.destroy()
    return
  }
  try {
    await client.close()
  } catch {
    client.destroy()
  }
}
