import type { AgentEvent, AgentwireState, AnyEventDefinitions } from 'agentwire/protocol'

/** An event as the broker stored it: positioned on its channel. */
export interface StoredEvent {
  readonly channel: string
  /** Changes whenever the channel's log is lost (restart of a memory broker, FLUSHALL, eviction). */
  readonly epoch: string
  /** 1 for the channel's first event, then +1 per event, per epoch. */
  readonly seq: number
  /** Milliseconds since the Unix epoch when the broker accepted it. */
  readonly time: number
  readonly event: AgentEvent
}

/** A channel's position: `seq` is the last event's, 0 when there is none. */
export interface Head {
  readonly epoch: string
  readonly seq: number
}

export type ReadResult =
  /** Every event after the position, in order: nothing missing. */
  | { readonly ok: true; readonly events: readonly StoredEvent[] }
  /** The position cannot be honoured: older than the window, another epoch, or from the future. */
  | { readonly ok: false; readonly reason: 'window' | 'epoch' | 'future' }

/** A channel's state built with `reduce` from every event up to `seq` (position first, then state). */
export interface ChannelSnapshot extends Head {
  readonly channel: string
  readonly state: AgentwireState
  /** The application's reducer states on the channel, by name (`defineEvents(…).reducer`); absent: none folded. */
  readonly reduced?: Readonly<Record<string, unknown>>
}

export interface BrokerListener {
  /** Live events, in per-channel order. */
  event(event: StoredEvent): void
  /**
   * Continuity was lost for a channel (the bus dropped messages, the log was lost): the
   * gateway sends its subscribers a fresh snapshot and they emit `resync`.
   */
  resync?(channel: string, reason: 'epoch' | 'gap'): void
}

/**
 * Where events live between publishers and gateways. `memoryBroker()` is the embedded
 * default; `redisBroker()` makes several gateways one system.
 */
export interface Broker {
  readonly name: string
  /** Stores the event on the channel (assigning its position) and fans it out. */
  publish(channel: string, event: AgentEvent): Promise<StoredEvent>
  /** Live events on channels matching `pattern` (a channel, or a prefix ending in `*`). Returns its disposer. */
  subscribe(pattern: string, listener: BrokerListener): Promise<() => Promise<void>>
  /** Events strictly after `from` on one channel, from the replay window. */
  read(channel: string, from: Head): Promise<ReadResult>
  /** The channel's current position and state. */
  snapshot(channel: string): Promise<ChannelSnapshot>
  /** The concrete channels known that match a pattern (for snapshots of wildcard subscriptions). */
  channels(pattern: string): Promise<string[]>
  /**
   * A pattern's position: `seq` counts the channels born (first event stored) in this log,
   * `epoch` names the count's life. Handed to a client with each pattern subscribe, and sent
   * back when it resumes, so the gateway can tell which channels were born while it was away.
   * Optional: without it (and `bornAfter`), channels new to a client start with a snapshot.
   */
  watermark?(): Promise<Head>
  /**
   * The channels matching `pattern` born after `mark` (every channel with a birth, when the
   * mark is of another epoch), each with its birth number.
   */
  bornAfter?(pattern: string, mark: Head): Promise<Map<string, number>>
  /**
   * The application's event definitions: from now on each publish also folds the event into
   * the channel's reducer states, kept in its snapshot. The gateway calls it with its `events`.
   * A broker without it keeps built-in state only.
   */
  define?(events: AnyEventDefinitions): void
  close(): Promise<void>
}

/** Replay window per channel. */
export interface RetentionOptions {
  /** Events kept per channel. @default 1000 */
  size?: number
  /** Events older than this are dropped from the window. @default 120000 (two minutes) */
  maxAgeMs?: number
}
