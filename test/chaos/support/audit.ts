import { isDeepStrictEqual } from 'node:util'
import type { Client } from 'agentwire'
import type { AgentEvent, AgentwireState } from 'agentwire/protocol'

/**
 * The one audit every chaos run uses. The test records what was published on each channel
 * (the broker's position and the index the publisher stamped into the event), attaches the
 * audit to a client, and afterwards compares what the client's handlers saw:
 *
 * - every published event seen exactly once, in per-channel order (Tier A);
 * - a jump in positions is fine only when a `resync` came before it (Tier B): the events it
 *   skipped are counted as covered by the snapshot, never as delivered; without a resync
 *   they are a silent gap, and the run fails;
 * - each delivered event carries the payload that was published at its position.
 *
 * The stamp is `payload.load` of an `agent.status` event: `agentEvent(name, i)` makes one.
 */
export interface PublishedEvent {
  readonly channel: string
  readonly epoch: string
  readonly seq: number
  /** The publisher's stamp: `payload.load`. */
  readonly stamp: number
}

export interface AuditReport {
  readonly channels: number
  readonly published: number
  readonly delivered: number
  /** Published, never delivered, and not covered by an announced resync. */
  readonly lost: number
  readonly duplicates: number
  readonly reordered: number
  /** Jumps in position without a preceding resync. */
  readonly silentGaps: number
  readonly resyncs: number
  /** Events skipped after a resync: the snapshot stands for them. */
  readonly coveredByResync: number
  /** Delivered events whose payload is not what was published at that position, or unknown positions. */
  readonly mismatched: number
  /** The first few problems, in words. */
  readonly problems: readonly string[]
}

type Seen = { kind: 'event'; epoch: string; seq: number; stamp: number } | { kind: 'resync'; reason: string }

export interface Audit {
  published(event: PublishedEvent): void
  /** Positions `from..to` of one epoch, published with stamps `stampOf(seq)` (for publishers in another process). */
  publishedRange(channel: string, epoch: string, from: number, to: number, stampOf: (seq: number) => number): void
  /** Records what `client`'s handlers see; returns the disposer. */
  attach(client: Client): () => void
  /** True when every channel's last published position was delivered. */
  caughtUp(): boolean
  /** Resolves once `caughtUp()`; rejects after `timeoutMs` saying where each channel is. */
  waitCaughtUp(timeoutMs?: number): Promise<void>
  report(): AuditReport
  /** Where each channel stands, for error messages. */
  describe(): string
  /**
   * For a client that joins and leaves while a stream runs (soak): judges the delivered
   * positions alone. Within an epoch each must be the previous + 1 unless a resync came
   * between; nothing twice; an epoch change only after a resync.
   */
  sequenceReport(): Pick<AuditReport, 'delivered' | 'duplicates' | 'reordered' | 'silentGaps' | 'resyncs' | 'problems'>
}

/** An `agent.status` event whose `load` is the publisher's stamp. */
export function agentEvent(name: string, stamp: number): AgentEvent {
  return { type: 'agent.status', payload: { name, status: stamp % 2 === 0 ? 'busy' : 'available', load: stamp } } as AgentEvent
}

export function createAudit(): Audit {
  const published = new Map<string, PublishedEvent[]>()
  const seen = new Map<string, Seen[]>()
  const lastSeen = new Map<string, { epoch: string; seq: number }>()
  const waiters = new Set<() => void>()
  const poke = () => {
    for (const w of [...waiters]) w()
  }
  const list = <T>(map: Map<string, T[]>, channel: string): T[] => {
    let l = map.get(channel)
    if (!l) map.set(channel, (l = []))
    return l
  }

  const audit: Audit = {
    published(event) {
      list(published, event.channel).push(event)
      poke()
    },
    publishedRange(channel, epoch, from, to, stampOf) {
      const l = list(published, channel)
      for (let seq = from; seq <= to; seq++) l.push({ channel, epoch, seq, stamp: stampOf(seq) })
      poke()
    },
    attach(client) {
      const offEvent = client.on('event', (event, ctx) => {
        if (ctx.seq === undefined || ctx.epoch === undefined) return
        const stamp = event.type === 'agent.status' ? Number(event.payload.load) : Number.NaN
        list(seen, ctx.channel).push({ kind: 'event', epoch: ctx.epoch, seq: ctx.seq, stamp })
        lastSeen.set(ctx.channel, { epoch: ctx.epoch, seq: ctx.seq })
        poke()
      })
      const offResync = client.on('resync', (info) => {
        list(seen, info.channel).push({ kind: 'resync', reason: info.reason })
        poke()
      })
      return () => {
        offEvent()
        offResync()
      }
    },
    caughtUp() {
      for (const [channel, events] of published) {
        const last = events.at(-1)
        if (!last) continue
        const at = lastSeen.get(channel)
        if (!at || at.epoch !== last.epoch || at.seq < last.seq) return false
      }
      return true
    },
    waitCaughtUp(timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!audit.caughtUp()) return
          waiters.delete(check)
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`audit: not caught up after ${timeoutMs} ms: ${audit.describe()}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
    report() {
      let delivered = 0
      let lost = 0
      let duplicates = 0
      let reordered = 0
      let silentGaps = 0
      let resyncs = 0
      let covered = 0
      let mismatched = 0
      let total = 0
      const problems: string[] = []
      const problem = (text: string) => void (problems.length < 10 && problems.push(text))
      const channels = new Set([...published.keys(), ...seen.keys()])
      for (const channel of channels) {
        const pub = published.get(channel) ?? []
        total += pub.length
        const index = new Map(pub.map((e, i) => [`${e.epoch}:${e.seq}`, i] as const))
        const delivered1 = new Set<number>()
        let prev = -1
        let resynced = false
        for (const s of seen.get(channel) ?? []) {
          if (s.kind === 'resync') {
            resyncs++
            resynced = true
            continue
          }
          const i = index.get(`${s.epoch}:${s.seq}`)
          if (i === undefined) {
            mismatched++
            problem(`${channel}: delivered ${s.epoch}:${s.seq}, which was never published`)
            continue
          }
          if (delivered1.has(i)) {
            duplicates++
            problem(`${channel}: seq ${s.seq} delivered twice`)
            continue
          }
          delivered1.add(i)
          delivered++
          if (pub[i]!.stamp !== s.stamp) {
            mismatched++
            problem(`${channel}: seq ${s.seq} carried ${s.stamp}, published ${pub[i]!.stamp}`)
          }
          if (i < prev) {
            reordered++
            problem(`${channel}: seq ${s.seq} after seq ${pub[prev]!.seq}`)
          } else if (i > prev + 1) {
            const skipped = i - prev - 1
            if (resynced) covered += skipped
            else {
              silentGaps++
              lost += skipped
              problem(`${channel}: ${skipped} events skipped before seq ${s.seq} without a resync`)
            }
          }
          prev = Math.max(prev, i)
          resynced = false
        }
        const trailing = pub.length - 1 - prev
        if (trailing > 0) {
          if (resynced) covered += trailing
          else {
            lost += trailing
            problem(`${channel}: the last ${trailing} events never arrived`)
          }
        }
      }
      return { channels: channels.size, published: total, delivered, lost, duplicates, reordered, silentGaps, resyncs, coveredByResync: covered, mismatched, problems }
    },
    sequenceReport() {
      let delivered = 0
      let duplicates = 0
      let reordered = 0
      let silentGaps = 0
      let resyncs = 0
      const problems: string[] = []
      for (const [channel, list] of seen) {
        let last: { epoch: string; seq: number } | undefined
        let resynced = false
        const once = new Set<string>()
        for (const s of list) {
          if (s.kind === 'resync') {
            resyncs++
            resynced = true
            continue
          }
          const key = `${s.epoch}:${s.seq}`
          if (once.has(key)) {
            duplicates++
            if (problems.length < 10) problems.push(`${channel}: seq ${s.seq} delivered twice`)
            continue
          }
          once.add(key)
          delivered++
          if (last && !resynced) {
            if (s.epoch !== last.epoch) silentGaps++
            else if (s.seq < last.seq) reordered++
            else if (s.seq !== last.seq + 1) silentGaps++
            if ((s.epoch !== last.epoch || s.seq !== last.seq + 1) && problems.length < 10) problems.push(`${channel}: ${last.epoch}:${last.seq} -> ${s.epoch}:${s.seq} without a resync`)
          }
          last = { epoch: s.epoch, seq: s.seq }
          resynced = false
        }
      }
      return { delivered, duplicates, reordered, silentGaps, resyncs, problems }
    },
    describe() {
      return [...published]
        .map(([channel, events]) => `${channel} published ${events.at(-1)?.seq ?? 0}, seen ${lastSeen.get(channel)?.seq ?? 0}`)
        .join('; ')
    },
  }
  return audit
}

/** Tier A: everything once, in order, nothing skipped, no resync needed. */
export function tierA(report: AuditReport): boolean {
  return report.lost === 0 && report.duplicates === 0 && report.reordered === 0 && report.silentGaps === 0 && report.mismatched === 0 && report.resyncs === 0 && report.delivered === report.published
}

/** Tier B (which includes A): nothing lost silently, nothing twice, in order; skipped events only after an announced resync. */
export function tierB(report: AuditReport): boolean {
  return report.lost === 0 && report.duplicates === 0 && report.reordered === 0 && report.silentGaps === 0 && report.mismatched === 0
}

/**
 * Compares the client's view of each channel's agent with the server's snapshot of that
 * channel; returns the channels that differ. Channel `agent:{name}` carries agent `name`.
 */
export async function stateMismatches(client: Client, channels: readonly string[], snapshot: (channel: string) => Promise<{ state: AgentwireState }>): Promise<string[]> {
  const mine = client.getSnapshot()
  const out: string[] = []
  for (const channel of channels) {
    const name = channel.slice(channel.indexOf(':') + 1)
    const server = (await snapshot(channel)).state.agents[name]
    if (!isDeepStrictEqual(plain(mine.agents[name]), plain(server))) out.push(`${channel}: client ${JSON.stringify(mine.agents[name])} server ${JSON.stringify(server)}`)
  }
  return out
}

/** The JSON value of `x`: prototypes and key order do not count, only content. */
const plain = (x: unknown): unknown => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)))
