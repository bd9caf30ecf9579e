import { channelMatches, type Position } from 'agentwire/protocol'

/**
 * Where the client is on each concrete channel: the epoch and the last seq delivered. This is
 * what makes delivery exactly-once and in order (Tier A): the wire may repeat, the client
 * never delivers a `(channel, epoch, seq)` twice and never skips one silently.
 */
export type DeliveryVerdict =
  /** The next event: deliver it. */
  | 'deliver'
  /** Already delivered (a repeat, or replay overlapping live or a snapshot): drop it. */
  | 'duplicate'
  /** Events are missing before it, or its epoch is not the one the client knows: drop it and ask again from the last position. */
  | 'gap'
  /** Seq went backwards within the epoch outside any replay overlap: the log is not what the client saw. Drop it and ask again. */
  | 'backwards'

interface Entry {
  epoch: string
  seq: number
  /**
   * Just after a snapshot or a re-subscribe: the server may repeat events the client already
   * has (the snapshot overlaps live events, a replay starts before the client's position), so
   * a lower seq is a plain duplicate until the next event is delivered in order.
   */
  settling: boolean
  /** A re-subscribe for a gap is on its way: further gaps wait for it instead of asking again. */
  recovering: boolean
}

export interface Positions {
  /** Judges an event and, when it is to be delivered, advances the position. */
  judge(channel: string, epoch: string, seq: number): DeliveryVerdict
  /** A snapshot at `(epoch, seq)` replaced the channel's state. */
  reset(channel: string, epoch: string, seq: number): void
  get(channel: string): Position | undefined
  /** Positions to resume a subscription from: the channel's own, or every concrete channel a pattern covers. */
  resumeFor(subscription: string): Position[]
  /** Marks a channel as waiting for the answer to a re-subscribe; false when it already was. */
  markRecovering(channel: string): boolean
  /**
   * The server answered a (re-)subscribe covering these channels: its replay or snapshot
   * follows at once, so a gap after it is a new one, worth asking about again. The replay
   * starts from the position the client had when it asked, so it may repeat events that
   * arrived live since (through another subscription covering the channel): until the next
   * event in order, a lower seq is an overlap duplicate, not a log going backwards.
   */
  answered(subscription: string): void
  /** The connection is gone: re-subscribing on the next one asks for everything again. */
  connectionLost(): void
  forget(channel: string): void
  channels(): string[]
  /** Every position, e.g. to persist them. */
  all(): Position[]
}

export function createPositions(): Positions {
  const entries = new Map<string, Entry>()
  return {
    judge(channel, epoch, seq) {
      const entry = entries.get(channel)
      if (entry === undefined) {
        // No snapshot and no position: only the very start of a log can be delivered as is.
        if (seq === 1) {
          entries.set(channel, { epoch, seq, settling: false, recovering: false })
          return 'deliver'
        }
        return 'gap'
      }
      if (entry.epoch !== epoch) return 'gap'
      if (seq === entry.seq + 1) {
        entry.seq = seq
        entry.settling = false
        entry.recovering = false
        return 'deliver'
      }
      if (seq > entry.seq) return 'gap'
      if (seq === entry.seq || entry.settling || entry.recovering) return 'duplicate'
      return 'backwards'
    },
    reset(channel, epoch, seq) {
      entries.set(channel, { epoch, seq, settling: true, recovering: false })
    },
    get(channel) {
      const entry = entries.get(channel)
      return entry ? { channel, epoch: entry.epoch, seq: entry.seq } : undefined
    },
    resumeFor(subscription) {
      const out: Position[] = []
      for (const [channel, entry] of entries) {
        if (entry.epoch !== '' && channelMatches(subscription, channel)) out.push({ channel, epoch: entry.epoch, seq: entry.seq })
      }
      return out
    },
    markRecovering(channel) {
      const entry = entries.get(channel)
      if (entry === undefined) {
        // Nothing known yet: remember that a snapshot was asked for.
        entries.set(channel, { epoch: '', seq: 0, settling: true, recovering: true })
        return true
      }
      if (entry.recovering) return false
      entry.recovering = true
      entry.settling = true
      return true
    },
    answered(subscription) {
      for (const [channel, entry] of entries) {
        if (!channelMatches(subscription, channel)) continue
        entry.recovering = false
        entry.settling = true
      }
    },
    connectionLost() {
      for (const entry of entries.values()) {
        entry.recovering = false
        entry.settling = true
      }
    },
    forget(channel) {
      entries.delete(channel)
    },
    channels() {
      return [...entries.keys()]
    },
    all() {
      const out: Position[] = []
      for (const [channel, entry] of entries) if (entry.epoch !== '') out.push({ channel, epoch: entry.epoch, seq: entry.seq })
      return out
    },
  }
}
