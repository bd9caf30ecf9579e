import { createClient } from 'redis'
import { channelMatches, parseChannel } from 'agentwire/protocol'
import type { Broker, ChannelSnapshot, Head, ReadResult, RetentionOptions } from 'agentwire/server'
import { BrokerError, brokerError } from './broker-error'
import { closeClient, connectionOptions, type RedisClient, type RedisHeartbeatOptions, type RedisReconnectOptions } from './connection'
import { createCursors, type Note } from './cursors'
import { createListenerIndex, type ListenerEntry } from './listener-index'
import { createLogWriter } from './log-writer'
import { escapeGlob, keysFor, newEpoch, parseNotify, readLog, readSnapshot, run, SCRIPTS } from './redis-log'

/**
 * The Redis broker: several gateways become one system, with positions that mean the same on
 * every node.
 *
 * Keys, under `prefix` (default `agentwire`):
 * - `{prefix}:log:{channel}` — a Redis Stream, the channel's bounded log. Entry ids are
 *   `{seq}-0`, so an XRANGE from a position is the position itself. Trimmed on publish by
 *   `XADD MAXLEN ~ size` and, for age, `XTRIM MINID` past entries older than `maxAgeMs`.
 * - `{prefix}:meta:{channel}` — a hash: `epoch` (random, created when absent), `seq` (last
 *   assigned), `state` (the `reduce`d state at `seq`, JSON) and `head` (the time of the oldest
 *   entry as far as the publish script knows, never later than the real one; 0 = unknown).
 * - `{prefix}:channels` — a set of every channel published to, for `channels(pattern)`.
 * - `{prefix}:births` — a hash: `epoch` and `n`, the count of channels born (first entry
 *   appended, by the publish script) — a pattern's position, the same on every gateway — and
 *   `{prefix}:born`, a sorted set of those channels scored by their birth, for `bornAfter`.
 * - Pub/Sub `{prefix}:n:{channel}` — one message per appended entry, carrying it whole.
 *
 * Publish (shared with `createPublisher`, see log-writer.ts): one Lua script appends a batch,
 * advances `seq` and stores the state, atomically, but only if the writer's view (epoch, seq)
 * is still current; the writer ran `reduce` on that view (Lua cannot) and retries on a stale
 * one. So position and state change together and a snapshot is never ahead of or behind its
 * seq. If the meta hash is lost (FLUSHALL, eviction), the next publish or snapshot creates a
 * new epoch and drops any orphaned log; holders of the old epoch get `'epoch'` from `read`.
 *
 * Fan-out: each broker SUBSCRIBEs (PSUBSCRIBE for patterns) to the notify channels of what is
 * subscribed locally, and keeps a cursor (epoch, seq) per concrete channel. A notification
 * that is the cursor's next seq is delivered at once; anything else (a gap, another epoch) and
 * every reconnect of the subscriber connection run a catch-up from the stream (XRANGE after
 * the cursor). Pub/Sub is at-most-once; the stream is not: nothing is lost while the log
 * reaches back. When it does not, or the epoch changed, listeners get `resync(channel, 'gap' |
 * 'epoch')` and the cursor jumps to the head (the snapshot the gateway then takes covers what
 * was skipped) — never a silent gap. Listeners are indexed in listener-index.ts, the cursors
 * kept in cursors.ts.
 *
 * Faults: node-redis reconnects with bounded full-jitter backoff; publish, read and snapshot
 * reject with a `BrokerError` while Redis is away (the caller decides); the subscriber
 * connection resubscribes on its own and a catch-up follows its `ready`. Background failures go
 * to `onError`, never thrown into the caller's event loop. Redis Cluster is not supported: the
 * scripts touch a channel's keys and the channel set in one call.
 */
export interface RedisBrokerOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  url: string
  /** Prefix of every key and Pub/Sub channel, so several systems (or tests) share one Redis. @default 'agentwire' */
  prefix?: string
  /** Replay window per channel. @default { size: 1000, maxAgeMs: 120000 } */
  retention?: RetentionOptions
  /** Reconnect backoff towards Redis. @default { initialDelayMs: 50, maxDelayMs: 1000 } */
  reconnect?: RedisReconnectOptions
  /**
   * Liveness of both connections to Redis: a PING every `intervalMs`; a connection silent for
   * `intervalMs + timeoutMs` is dropped, reconnected and resubscribed, and what it missed is read
   * back from the streams. Without it a link that goes silent without closing (a black hole)
   * stalls every subscriber of this gateway until TCP gives up, hours later. `false` turns it off.
   * The drop is node-redis's `socketTimeout`, which the first releases of node-redis 5 lack
   * (there only the PINGs go out).
   * @default { intervalMs: 5000, timeoutMs: 5000 }
   */
  heartbeat?: RedisHeartbeatOptions | false
  /** Where background failures go (Redis errors, a listener that threw). @default console.error, at most once per second */
  onError?: (error: Error) => void
  /** The clock that stamps `StoredEvent.time` and ages the window. @default Date.now */
  now?: () => number
  /** The application's reducers, kept in each channel's snapshot (a gateway given `events` sets them too). @default none */
  events?: import('agentwire/protocol').AnyEventDefinitions
}

/** A Redis broker: the Broker contract plus what operations need. */
export interface RedisBroker extends Broker {
  readonly name: 'redis'
  readonly prefix: string
  /** Resolves once both connections are up (every method waits for it by itself). */
  ready(): Promise<void>
}

export function redisBroker(options: RedisBrokerOptions): RedisBroker {
  const prefix = options.prefix ?? 'agentwire'
  const keys = keysFor(prefix)
  const size = options.retention?.size ?? 1000
  const maxAgeMs = options.retention?.maxAgeMs ?? 120_000
  const now = options.now ?? Date.now
  const report = options.onError ?? throttledConsole()

  const data = createClient(connectionOptions(options.url, options.reconnect, false, options.heartbeat)) as RedisClient
  const sub = createClient(connectionOptions(options.url, options.reconnect, true, options.heartbeat)) as RedisClient
  data.on('error', (err: Error) => report(brokerError('redis (data connection)', err)))
  sub.on('error', (err: Error) => report(brokerError('redis (subscriber connection)', err)))

  const writer = createLogWriter(data, { keys, size, maxAgeMs, now, ...(options.events ? { events: options.events } : {}) })
  const listeners = createListenerIndex(report)
  const cursors = createCursors({
    read: (channel, fromSeq, count) => readLog(data, keys, channel, fromSeq, count),
    listeners,
    onCatchUpError(channel, err) {
      report(brokerError(`catch-up of ${channel}`, err))
      scheduleRetry()
    },
  })
  /** Redis-level subscriptions by canonical pattern, ref-counted across listeners. */
  const redisSubs = new Map<string, number>()
  /**
   * Channels and patterns whose cursors are being initialised (subscribe), counted: until then
   * their notifications wait in `held`, in arrival order. Only theirs: a subscribe to one channel
   * (two round trips, one per channel of a pattern) never holds back the live events of others.
   */
  const initialising = new Map<string, number>()
  const held: Note[] = []
  let closed = false
  let connectedOnce = false
  let retryTimer: ReturnType<typeof setTimeout> | undefined

  const connecting = Promise.all([data.connect(), sub.connect()]).then(() => {
    connectedOnce = true
  })
  connecting.catch((err: unknown) => report(brokerError('redis connect', err)))

  // Both connections came back: whatever Pub/Sub dropped meanwhile is read from the streams.
  // node-redis emits 'ready' on the subscriber only after its SUBSCRIBEs are confirmed.
  const onReady = () => {
    if (connectedOnce && !closed) catchUpAll()
  }
  sub.on('ready', onReady)
  data.on('ready', onReady)

  async function ready(): Promise<void> {
    if (closed) throw new BrokerError('the broker is closed', { code: 'closed', retryable: false })
    await connecting
  }

  function canonical(input: string, allowPattern: boolean): string {
    const check = parseChannel(input)
    if (!check.ok) throw new BrokerError(check.reason, { code: 'invalid_channel', retryable: false })
    if (check.pattern && !allowPattern) throw new BrokerError(`expected a concrete channel, got the pattern "${check.channel}"`, { code: 'invalid_channel', retryable: false })
    return check.channel
  }

  /** The one Pub/Sub listener, for every notification channel this broker follows. */
  const onMessage = (message: string): void => onNotify(message)

  function onNotify(message: string): void {
    if (closed) return
    const note = parseNotify(message)
    if (!note) return
    if (initialising.size > 0 && isInitialising(note.channel)) {
      held.push(note)
      return
    }
    cursors.route(note)
  }

  function isInitialising(channel: string): boolean {
    for (const key of initialising.keys()) if (channelMatches(key, channel)) return true
    return false
  }

  /** After a subscribe: what it held back goes on, in order, unless another subscribe still covers it. */
  function releaseHeld(): void {
    if (held.length === 0) return
    const still: Note[] = []
    for (const note of held.splice(0)) {
      if (closed) return
      if (isInitialising(note.channel)) still.push(note)
      else cursors.route(note)
    }
    held.push(...still)
  }

  function catchUpAll(): void {
    cursors.catchUp()
    // Channels born under a pattern while this node was cut off have no cursor yet.
    for (const pattern of redisSubs.keys()) {
      if (!pattern.endsWith('*')) continue
      channels(pattern)
        .then((found) => {
          for (const channel of found) cursors.follow(channel)
        })
        .catch((err: unknown) => {
          report(brokerError(`catch-up of ${pattern}`, err))
          scheduleRetry()
        })
    }
  }

  function scheduleRetry(): void {
    if (closed || retryTimer) return
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      if (data.isReady && sub.isReady) catchUpAll()
      // Otherwise the next 'ready' runs it.
    }, options.reconnect?.maxDelayMs ?? 1000)
    retryTimer.unref?.()
  }

  async function head(channel: string): Promise<{ epoch: string; seq: number }> {
    const r = await readLog(data, keys, channel, Number.MAX_SAFE_INTEGER, 1)
    return { epoch: r.epoch, seq: r.head }
  }

  async function channels(pattern: string): Promise<string[]> {
    const canon = canonical(pattern, true)
    await ready()
    try {
      if (!canon.endsWith('*')) return (await data.sIsMember(keys.channels, canon)) ? [canon] : []
      const found = new Set<string>()
      const match = `${escapeGlob(canon.slice(0, -1))}*`
      let cursor = '0'
      do {
        const reply = (await data.sendCommand(['SSCAN', keys.channels, cursor, 'MATCH', match, 'COUNT', '1000'])) as [string, string[]]
        cursor = reply[0]
        for (const c of reply[1]) if (channelMatches(canon, c)) found.add(c)
      } while (cursor !== '0')
      return [...found].sort()
    } catch (err) {
      throw brokerError(`channels(${canon})`, err)
    }
  }

  const broker: RedisBroker = {
    name: 'redis',
    prefix,
    ready,

    async publish(channel, event) {
      const canon = canonical(channel, false)
      await ready()
      return writer.publish(canon, event)
    },

    async subscribe(pattern, listener) {
      const canon = canonical(pattern, true)
      await ready()
      const entry: ListenerEntry = { pattern: canon, listener }
      initialising.set(canon, (initialising.get(canon) ?? 0) + 1)
      try {
        const count = redisSubs.get(canon) ?? 0
        redisSubs.set(canon, count + 1)
        if (count === 0) {
          if (canon.endsWith('*')) await sub.pSubscribe(keys.notify(canon), onMessage)
          else await sub.subscribe(keys.notify(canon), onMessage)
        }
        // Live delivery starts at each channel's current head: the subscription is active, so
        // nothing after the head can be missed, and nothing before it is replayed.
        const concrete = canon.endsWith('*') ? await channels(canon) : [canon]
        for (const channel of concrete) {
          if (cursors.has(channel)) continue
          cursors.start(channel, await head(channel))
        }
        listeners.add(entry)
      } catch (err) {
        await releaseRedisSub(canon)
        throw brokerError(`subscribe(${canon})`, err)
      } finally {
        const left = (initialising.get(canon) ?? 1) - 1
        if (left > 0) initialising.set(canon, left)
        else initialising.delete(canon)
        releaseHeld()
      }
      let disposed = false
      return async () => {
        if (disposed) return
        disposed = true
        listeners.remove(entry)
        cursors.sweep()
        await releaseRedisSub(canon)
      }
    },

    async read(channel, from: Head): Promise<ReadResult> {
      const canon = canonical(channel, false)
      await ready()
      let r
      try {
        r = await readLog(data, keys, canon, from.seq + 1, 0)
      } catch (err) {
        throw brokerError(`read(${canon})`, err)
      }
      if (r.epoch === '') return from.seq === 0 ? { ok: true, events: [] } : { ok: false, reason: 'epoch' }
      if (from.seq > 0 && from.epoch !== r.epoch) return { ok: false, reason: 'epoch' }
      if (from.seq > r.head) return { ok: false, reason: 'future' }
      if (from.seq === r.head) return { ok: true, events: [] }
      if (r.events[0]?.seq !== from.seq + 1) return { ok: false, reason: 'window' }
      return { ok: true, events: r.events.filter((e) => e.seq <= r.head) }
    },

    async snapshot(channel): Promise<ChannelSnapshot> {
      const canon = canonical(channel, false)
      await ready()
      try {
        const s = await readSnapshot(data, keys, canon)
        return { channel: canon, epoch: s.epoch, seq: s.seq, state: s.state, ...(s.reduced ? { reduced: s.reduced } : {}) }
      } catch (err) {
        throw brokerError(`snapshot(${canon})`, err)
      }
    },

    channels,

    async watermark(): Promise<Head> {
      await ready()
      try {
        const [epoch, n] = (await run(data, SCRIPTS.watermark, [keys.births, keys.born], [newEpoch()])) as [string, string | null]
        return { epoch, seq: Number(n ?? 0) }
      } catch (err) {
        throw brokerError('watermark()', err)
      }
    },

    async bornAfter(pattern, mark: Head): Promise<Map<string, number>> {
      const canon = canonical(pattern, true)
      await ready()
      let flat: string[]
      try {
        flat = (await run(data, SCRIPTS.bornAfter, [keys.births, keys.born], [mark.epoch, String(mark.seq)])) as string[]
      } catch (err) {
        throw brokerError(`bornAfter(${canon})`, err)
      }
      const out = new Map<string, number>()
      for (let i = 0; i + 1 < flat.length; i += 2) if (channelMatches(canon, flat[i]!)) out.set(flat[i]!, Number(flat[i + 1]))
      return out
    },

    define(events) {
      writer.define(events)
    },

    async close() {
      if (closed) return
      closed = true
      if (retryTimer) clearTimeout(retryTimer)
      retryTimer = undefined
      writer.close()
      listeners.clear()
      cursors.close()
      await Promise.all([closeClient(data), closeClient(sub)])
    },
  }

  async function releaseRedisSub(canon: string): Promise<void> {
    const count = (redisSubs.get(canon) ?? 1) - 1
    if (count > 0) {
      redisSubs.set(canon, count)
      return
    }
    redisSubs.delete(canon)
    if (closed || !sub.isReady) return
    try {
      // With the listener named, node-redis marks the channel as leaving, so a subscribe that
      // comes before Redis confirms sends SUBSCRIBE again instead of joining a dying set.
      if (canon.endsWith('*')) await sub.pUnsubscribe(keys.notify(canon), onMessage)
      else await sub.unsubscribe(keys.notify(canon), onMessage)
    } catch (err) {
      report(brokerError(`unsubscribe(${canon})`, err))
    }
  }

  return broker
}

/** The default error sink: the console, at most one line per second so a Redis outage does not flood it. */
function throttledConsole(): (error: Error) => void {
  let last = 0
  let dropped = 0
  return (error) => {
    const t = Date.now()
    if (t - last < 1000) {
      dropped++
      return
    }
    last = t
    console.error(`[agentwire] ${error.message}${dropped > 0 ? ` (+${dropped} more)` : ''}`)
    dropped = 0
  }
}
