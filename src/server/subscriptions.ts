import { AgentwireError, ErrorCode, channelMatches, parseChannel, serializeState } from 'agentwire/protocol'
import type { AgentwireState, SerializedState, ServerFrame, SubscribeItem, SubscribeResult } from 'agentwire/protocol'
import type { Broker, ChannelSnapshot, Head, StoredEvent } from './broker'
import type { Fanout, FanoutReceiver } from './fanout'
import { eventFrameText } from './fanout'
import { createGrants, type Grants } from './grants'
import { SmallMap } from './small-map'
import type { AuthorizeAction, GatewayLogger } from './options'

/**
 * One connection's subscriptions, and the rule that makes resume safe: follow live events
 * first (buffering them), then read the replay or the snapshot, then send it and flush the
 * buffer, skipping what the replay already covered. Whatever the broker's latency, the client
 * sees every event after its position exactly once and in order, or a state frame.
 */
export interface Subscriptions {
  /** Authorizes and starts following each item; nothing is sent until `commit()`. */
  prepare(items: readonly SubscribeItem[], rejoin?: { readonly requestId: string }): Promise<Prepared>
  /** Stops following; returns the canonical channels that were followed. */
  remove(channels: readonly string[]): string[]
  /** A live event from the fan-out. */
  live(key: string, event: StoredEvent, text: string): void
  /** The broker lost continuity on a channel: send a fresh state frame. */
  resync(key: string, channel: string, reason: 'epoch' | 'gap'): Promise<void>
  /** The token was renewed: every channel a pattern brings is authorized again before its next event. */
  reauthorized(): void
  /** Drops every subscription (the connection closed). */
  clear(): void
  /** Subscriptions held. */
  size(): number
}

export interface Prepared {
  /** One result per item, in order. */
  readonly results: SubscribeResult[]
  /** Sends the replays and state frames, then the buffered live events; returns each successful item's position. Synchronous. */
  commit(): Head[]
}

/**
 * What the subscriptions need from their connection. The connection passes itself: the
 * subscriptions hold one reference instead of a dozen callbacks (closures per connection).
 * It is also the fan-out receiver their channels are followed with.
 */
export interface SubscriptionsOwner extends FanoutReceiver {
  readonly host: {
    readonly broker: Broker
    readonly fanout: Fanout
    readonly log: GatewayLogger
    readonly limits: { readonly maxChannels: number }
  }
  readonly session: string
  authorizeChannel(channel: string, action: AuthorizeAction): Promise<boolean>
  isOpen(): boolean
  sendText(text: string): void
  send(frame: ServerFrame): void
  /** Live events piled up past {@link MAX_SYNC_BUFFER} while a replay was being read: the connection is given up (1013). */
  overflow(): void
  /** `authorize` said "not now" for a channel under a pattern: the connection is given up (1013), to be resumed. */
  authorizeUnavailable(): void
}

/** Live events held per subscription while its replay or snapshot is read; a broker slower than this gives up the connection. */
export const MAX_SYNC_BUFFER = 10_000

interface Subscription {
  readonly key: string
  /** A pattern: each concrete channel it brings is authorized on its own (`./grants`). */
  readonly pattern: boolean
  /** Live events held back while a replay or snapshot is being read; `null` once live. */
  buffer: StoredEvent[] | null
}

type StateReason = 'initial' | 'window' | 'epoch' | 'gap' | 'rejoin'
type Step =
  | { readonly kind: 'replay'; readonly channel: string; readonly from: Head; readonly events: readonly StoredEvent[] }
  | { readonly kind: 'state'; readonly snapshot: ChannelSnapshot; readonly reason: StateReason }

interface Plan {
  readonly sub: Subscription
  readonly steps: Step[]
  readonly requestId: string | undefined
}

type Outcome = { result: SubscribeResult; plan?: Plan }

const failure = (channel: string, code: ErrorCode, message: string, retryable = false): Outcome => ({
  result: { ok: false, channel: channel.slice(0, 160) || '?', error: { code, message, retryable } },
})

/**
 * A class: its methods live once on the prototype, and what a connection holds is four fields,
 * the maps made with the first channel.
 */
export class ConnectionSubscriptions implements Subscriptions {
  private readonly subs = new SmallMap<string, Subscription>()
  /** The last position sent per concrete channel: the dedupe that makes overlap between replay and live harmless. */
  private readonly delivered = new SmallMap<string, { epoch: string; seq: number }>()
  /** What the concrete channels under this connection's patterns may send; made with the first pattern. */
  private grants: Grants | undefined = undefined

  constructor(private readonly owner: SubscriptionsOwner) {}

  private patternGrants(): Grants {
    const owner = this.owner
    return (this.grants ??= createGrants({
      authorize: (channel, action) => owner.authorizeChannel(channel, action),
      log: owner.host.log,
      session: owner.session,
      maxHeld: MAX_SYNC_BUFFER,
      onOverflow: () => owner.overflow(),
      onUnavailable: () => owner.authorizeUnavailable(),
    }))
  }

  private deliver(event: StoredEvent, text?: string): void {
    const last = this.delivered.get(event.channel)
    if (last && last.epoch === event.epoch) {
      if (event.seq <= last.seq) return
      last.seq = event.seq
    } else this.delivered.set(event.channel, { epoch: event.epoch, seq: event.seq })
    this.owner.sendText(text ?? eventFrameText(event))
  }

  private drop(key: string): boolean {
    if (!this.subs.delete(key)) return false
    this.owner.host.fanout.release(key, this.owner)
    return true
  }

  private pruneDelivered(): void {
    const keys = this.subs.keys()
    for (const channel of this.delivered.keys()) {
      let covered = false
      for (const key of keys) if (channelMatches(key, channel)) covered = true
      if (!covered) this.delivered.delete(channel)
    }
  }

  private async readFrom(channel: string, from: Head): Promise<{ step: Step; recovered: boolean }> {
    const broker = this.owner.host.broker
    const read = await broker.read(channel, from)
    if (read.ok) return { step: { kind: 'replay', channel, from, events: read.events }, recovered: true }
    // No partial replay: a position the broker cannot honour gets the whole state instead.
    // A position from the future belongs to a log this broker no longer has: reported as `epoch`.
    return { step: { kind: 'state', snapshot: await broker.snapshot(channel), reason: read.reason === 'window' ? 'window' : 'epoch' }, recovered: false }
  }

  private async prepareOne(item: SubscribeItem, rejoin: { readonly requestId: string } | undefined): Promise<Outcome> {
    const { owner, subs } = this
    const { broker, fanout, log, limits } = owner.host
    const parsed = parseChannel(item.channel)
    if (!parsed.ok) return failure(item.channel, ErrorCode.InvalidChannel, parsed.reason)
    const key = parsed.channel
    if (!subs.has(key) && subs.size >= limits.maxChannels) {
      return failure(key, ErrorCode.TooManyChannels, `at most ${limits.maxChannels} channels per connection`)
    }
    const positions: Array<Head & { channel: string }> = []
    /** The pattern's own position: the births it covered (docs/PROTOCOL.md §4). */
    let mark: Head | undefined
    for (const p of item.resume ?? []) {
      const c = parseChannel(p.channel)
      if (c.ok && c.pattern && c.channel === key) mark = { epoch: p.epoch, seq: p.seq }
      else if (c.ok && !c.pattern && channelMatches(key, c.channel)) positions.push({ channel: c.channel, epoch: p.epoch, seq: p.seq })
    }
    const action: AuthorizeAction = rejoin ? 'rejoin' : positions.length > 0 || mark ? 'resume' : 'subscribe'
    let allowed = false
    try {
      allowed = await owner.authorizeChannel(key, action)
    } catch (error) {
      log({ level: 'error', message: 'authorize threw; refusing', data: { session: owner.session, channel: key } })
      // A hook that says "not now" (overloaded, rate limited, timeout) gets a temporary refusal
      // the client retries with backoff; anything else it throws is a plain refusal.
      if (error instanceof AgentwireError && error.retryable) return failure(key, error.code, `could not ${action} ${key} now; try again`, true)
    }
    if (!owner.isOpen()) return failure(key, ErrorCode.Closed, 'connection closed')
    // The answer for a concrete channel is the channel's: a pattern bringing it asks no more.
    if (!parsed.pattern) this.grants?.record(key, allowed)
    if (!allowed) {
      // A grant can be withdrawn: re-subscribing a channel no longer allowed stops it too.
      if (this.drop(key)) this.pruneDelivered()
      return failure(key, ErrorCode.Forbidden, `not allowed to ${action} ${key}`)
    }
    let sub = subs.get(key)
    let created = false
    if (sub) sub.buffer ??= []
    else {
      if (subs.size >= limits.maxChannels) return failure(key, ErrorCode.TooManyChannels, `at most ${limits.maxChannels} channels per connection`)
      sub = { key, pattern: parsed.pattern, buffer: [] }
      subs.set(key, sub)
      created = true
    }
    try {
      // Read before following: a channel born after it is then followed live or listed below.
      const watermark = parsed.pattern ? await broker.watermark?.() : undefined
      if (created) await fanout.acquire(key, owner)
      const steps: Step[] = []
      let recovered = false
      let position: Head | undefined
      if (!parsed.pattern) {
        const position = positions[0]
        if (position && !rejoin) {
          const r = await this.readFrom(key, position)
          steps.push(r.step)
          recovered = r.recovered
        } else steps.push({ kind: 'state', snapshot: await broker.snapshot(key), reason: rejoin ? 'rejoin' : 'initial' })
      } else {
        const byChannel = new Map(positions.map((p) => [p.channel, p] as const))
        // Channels born since the client's mark, which it never saw: from their first event.
        const born = mark && broker.bornAfter ? await broker.bornAfter(key, mark) : undefined
        recovered = byChannel.size > 0 || born !== undefined
        const known = await broker.channels(key)
        let firstBorn = Infinity
        for (const channel of new Set([...byChannel.keys(), ...known, ...(born?.keys() ?? [])])) {
          const position = byChannel.get(channel)
          const birth = position ? undefined : born?.get(channel)
          // Each channel under the pattern is authorized on its own, asked anew on resume.
          if (!(await this.patternGrants().check(channel, position ? 'resume' : 'subscribe', position !== undefined))) continue
          if (position || birth !== undefined) {
            // Seq 0 reads from the first event; a window that lost it gives the state, with a resync.
            const r = await this.readFrom(channel, position ?? { epoch: '', seq: 0 })
            steps.push(r.step)
            recovered &&= r.recovered
            if (birth !== undefined) firstBorn = Math.min(firstBorn, birth)
          } else steps.push({ kind: 'state', snapshot: await broker.snapshot(channel), reason: 'initial' })
        }
        // The new mark stays below every channel sent from its start: a client that loses this
        // connection before it has them gets them again next time, not an `initial` snapshot.
        if (watermark) position = { epoch: watermark.epoch, seq: Math.min(watermark.seq, firstBorn - 1) }
      }
      if (!owner.isOpen() || subs.get(key) !== sub) return failure(key, ErrorCode.Closed, 'connection closed')
      return { result: { ok: true, channel: key, recovered, ...(position ? { position } : {}) }, plan: { sub, steps, requestId: rejoin?.requestId } }
    } catch {
      log({ level: 'error', message: 'broker failed during subscribe', data: { session: owner.session, channel: key } })
      if (created && subs.get(key) === sub) this.drop(key)
      // A re-subscribe of a channel already followed: it stays followed as it was, so what was
      // held back for the replay goes out now rather than waiting for a retry that may never come.
      else if (subs.get(key) === sub && owner.isOpen()) this.commit({ sub, steps: [], requestId: undefined })
      return failure(key, ErrorCode.Internal, 'the broker failed; try again', true)
    }
  }

  /** A live event the subscription `key` may receive: held while its replay is read, else sent. */
  private follow(key: string, event: StoredEvent, text: string): void {
    const sub = this.subs.get(key)
    if (!sub) return
    if (!sub.buffer) return this.deliver(event, text)
    if (sub.buffer.length >= MAX_SYNC_BUFFER) return this.owner.overflow()
    sub.buffer.push(event)
  }

  private commit(plan: Plan): Head {
    let position: Head = { epoch: '', seq: 0 }
    for (const step of plan.steps) {
      if (step.kind === 'replay') {
        this.delivered.set(step.channel, { epoch: step.from.epoch, seq: step.from.seq })
        for (const event of step.events) this.deliver(event)
        const last = step.events[step.events.length - 1]
        position = last ? { epoch: last.epoch, seq: last.seq } : step.from
      } else {
        this.owner.send(stateFrame(step.snapshot, step.reason, plan.requestId))
        this.delivered.set(step.snapshot.channel, { epoch: step.snapshot.epoch, seq: step.snapshot.seq })
        position = { epoch: step.snapshot.epoch, seq: step.snapshot.seq }
      }
    }
    const buffer = plan.sub.buffer ?? []
    plan.sub.buffer = null
    for (const event of buffer) this.deliver(event)
    return position
  }

  async prepare(items: readonly SubscribeItem[], rejoin?: { readonly requestId: string }): Promise<Prepared> {
    const outcomes: Outcome[] = []
    for (const item of items) outcomes.push(await this.prepareOne(item, rejoin))
    return {
      results: outcomes.map((o) => o.result),
      commit: () => outcomes.flatMap((o) => (o.plan && this.owner.isOpen() ? [this.commit(o.plan)] : [])),
    }
  }

  remove(channels: readonly string[]): string[] {
    const removed: string[] = []
    for (const channel of channels) {
      const parsed = parseChannel(channel)
      if (parsed.ok && this.drop(parsed.channel)) removed.push(parsed.channel)
    }
    if (removed.length > 0) this.pruneDelivered()
    return removed
  }

  live(key: string, event: StoredEvent, text: string): void {
    const sub = this.subs.get(key)
    if (!sub) return
    if (sub.pattern) this.patternGrants().gate(event.channel, () => this.follow(key, event, text))
    else this.follow(key, event, text)
  }

  async resync(key: string, channel: string, reason: 'epoch' | 'gap'): Promise<void> {
    const { owner, subs } = this
    const sub = subs.get(key)
    if (!sub || sub.buffer) return
    sub.buffer = []
    try {
      const allowed = !sub.pattern || (await this.patternGrants().check(channel, 'subscribe'))
      const snapshot = allowed ? await owner.host.broker.snapshot(channel) : undefined
      if (!owner.isOpen() || subs.get(key) !== sub) return
      this.commit({ sub, steps: snapshot ? [{ kind: 'state', snapshot, reason }] : [], requestId: undefined })
    } catch {
      owner.host.log({ level: 'error', message: 'broker failed during resync', data: { session: owner.session, channel } })
      if (subs.get(key) === sub) this.commit({ sub, steps: [], requestId: undefined })
    }
  }

  reauthorized(): void {
    this.grants?.forget()
  }

  clear(): void {
    for (const key of this.subs.keys()) this.drop(key)
    this.delivered.clear()
    this.grants?.clear()
  }

  size(): number {
    return this.subs.size
  }
}

/**
 * Each state's wire form, made once: a broker that keeps a channel's state as an object
 * (the memory broker) hands every client joining that channel the same one, and a burst of
 * joins (a fleet of dashboards, a reconnect storm) serializes it once instead of per client.
 */
const serialized = new WeakMap<AgentwireState, SerializedState>()

function wireState(state: AgentwireState): SerializedState {
  let out = serialized.get(state)
  if (out === undefined) serialized.set(state, (out = serializeState(state)))
  return out
}

function stateFrame(snapshot: ChannelSnapshot, reason: StateReason, requestId?: string): ServerFrame {
  return {
    type: 'state',
    channel: snapshot.channel,
    epoch: snapshot.epoch,
    seq: snapshot.seq,
    reason,
    ...(requestId === undefined ? {} : { requestId }),
    // The wire form keeps ids such as `__proto__`, which the safe JSON reader drops from keys.
    state: wireState(snapshot.state) as unknown as Record<string, unknown>,
    ...(snapshot.reduced ? { reduced: snapshot.reduced as Record<string, unknown> } : {}),
  }
}
