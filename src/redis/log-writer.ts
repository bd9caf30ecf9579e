import { ErrorCode, applyReducers, createDraft, initialState, reduce } from 'agentwire/protocol'
import type { AgentEvent, AgentwireState, AnyEventDefinitions } from 'agentwire/protocol'
import type { StoredEvent } from 'agentwire/server'
import { BrokerError, brokerError } from './broker-error'
import type { RedisClient } from './connection'
import { newEpoch, parseStored, run, SCRIPTS, storeText, type Keys } from './redis-log'

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
  /** The application's reducers, folded into each channel's stored state. @default none */
  readonly events?: AnyEventDefinitions
  /**
   * At most one script call per channel this often while the channel is busy: a call that
   * would start sooner after the previous one waits for the rest of the window, and what is
   * published meanwhile joins it. A channel idle for the window sends at once. @default 0
   */
  readonly coalesceMs?: number
}

export interface LogWriter {
  publish(channel: string, event: AgentEvent): Promise<StoredEvent>
  /** The application's reducers from now on (`Broker.define`). */
  define(events: AnyEventDefinitions): void
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
  view: { epoch: string; seq: number; state: AgentwireState; reduced?: Readonly<Record<string, unknown>> } | undefined
  readonly queue: Pending[]
  running: boolean
  /** The script's keys and the notify channel, built once per channel. */
  readonly keys: string[]
  readonly notify: string
  /** When the last script call started (performance.now()), for `coalesceMs`. */
  started: number
}

/** Compare-and-set attempts before a batch is given up (each failure means another writer got in first). */
const MAX_ATTEMPTS = 64

/**
 * The one publish path. Per channel, calls made in the same turn go out in one script call, and
 * calls queue while a script call is in flight and go out together in the next one (group
 * commit), so order is call order and throughput does not pay one round trip per event; an
 * idle channel never waits to batch. The writer reduces the state itself (Lua cannot run `reduce`)
 * and the script stores it only if nobody else appended since the writer last looked.
 */
export function createLogWriter(client: RedisClient, options: LogWriterOptions): LogWriter {
  const { keys } = options
  const maxBatch = options.maxBatch ?? 256
  const size = String(options.size)
  const coalesceMs = Math.max(0, options.coalesceMs ?? 0)
  const maxCached = options.maxCachedChannels ?? 1000
  const logs = new Map<string, ChannelLog>()
  let closed = false
  /**
   * The epoch a call offers in case the channel has none. Random bytes per call were a good
   * part of the writer's own cost; one candidate serves until a script takes it (or a call
   * fails, when it is unknown whether one did), so no two lives of a channel share an epoch.
   */
  let candidate = newEpoch()
  let events = options.events && Object.keys(options.events.reducers).length > 0 ? options.events : undefined

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
    log = { view: undefined, queue: [], running: false, keys: [keys.meta(channel), keys.log(channel), keys.channels, keys.births, keys.born], notify: keys.notify(channel), started: -Infinity }
    logs.set(channel, log)
    return log
  }

  async function drain(channel: string, log: ChannelLog): Promise<void> {
    log.running = true
    try {
      while (log.queue.length > 0) {
        if (coalesceMs > 0) {
          const wait = log.started + coalesceMs - performance.now()
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
          if (log.queue.length === 0) break
          log.started = performance.now()
        }
        const batch = log.queue.splice(0, maxBatch)
        try {
          const stored = await appendBatch(channel, log, batch)
          batch.forEach((p, i) => p.resolve(stored[i]!))
        } catch (err) {
          // Unknown whether the script ran: forget the view so the next call re-reads it.
          log.view = undefined
          candidate = newEpoch()
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
      let reduced = view?.reduced
      // A batch folds into a draft: what its events change is copied once, not once per event.
      const draft = batch.length > 1 ? createDraft(state) : undefined
      for (const p of batch) {
        if (draft) draft.apply(p.event)
        else state = reduce(state, p.event)
        // A reducer that throws keeps its state: the event is stored all the same.
        if (events !== undefined) reduced = applyReducers(events, reduced, p.event, channel)
      }
      if (draft) state = draft.current()
      const time = options.now()
      // Events that left the state as it was (same objects: `reduce` is pure) need no new
      // text: '' tells the script to keep the stored one, which is this view's. Not when the
      // application's reducers run: they are not known to return new objects for a change.
      const unchanged = view !== undefined && state === view.state && events === undefined
      const args = [view?.epoch ?? '', String(view?.seq ?? -1), unchanged ? '' : storeText(state, reduced), candidate, String(time), size, String(options.maxAgeMs > 0 ? time - options.maxAgeMs : 0), channel, log.notify]
      for (const p of batch) args.push(p.text)
      const reply = (await run(client, SCRIPTS.publish, log.keys, args)) as [number, string, number, string?]
      const [ok, epoch, seq] = reply
      if (epoch === candidate) candidate = newEpoch()
      if (ok === 1) {
        log.view = { epoch, seq: seq + batch.length - 1, state, ...(reduced ? { reduced } : {}) }
        return batch.map((p, i) => ({ channel, epoch, seq: seq + i, time, event: p.event }))
      }
      log.view = { epoch, seq: Number(seq), ...parseStored(reply[3] ?? '') }
    }
    throw new BrokerError(`publish on ${channel} lost ${MAX_ATTEMPTS} races with other writers in a row`, { code: ErrorCode.Conflict })
  }

  return {
    publish(channel, event) {
      if (closed) return Promise.reject(new BrokerError('publish after close()', { code: ErrorCode.Closed, retryable: false }))
      return new Promise<StoredEvent>((resolve, reject) => {
        const log = logOf(channel)
        log.queue.push({ event, text: JSON.stringify(event), resolve, reject })
        if (!log.running) {
          log.running = true
          // Started from a microtask, not at once: the publishes the caller makes in this same
          // turn (a loop, a burst handled in one callback) join the first call instead of each
          // waiting for the reply to the one before. No timer: an event on an idle channel goes
          // out in the same turn as before.
          queueMicrotask(() => void drain(channel, log))
        }
      })
    },
    define(definitions) {
      events = Object.keys(definitions.reducers).length > 0 ? definitions : undefined
      // Cached views were reduced without these reducers: read them again.
      for (const log of logs.values()) if (!log.running) log.view = undefined
    },
    close() {
      closed = true
      const error = new BrokerError('publish after close()', { code: ErrorCode.Closed, retryable: false })
      for (const log of logs.values()) for (const p of log.queue.splice(0)) p.reject(error)
    },
  }
}
