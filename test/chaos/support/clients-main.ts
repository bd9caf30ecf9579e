/**
 * A fleet of clients in their own process (L4), so their decoding, handlers and audits do not
 * share a process with anything being measured, nor measure each other's backlog in the test
 * process. Started by `forkClients()` with its settings in AGENTWIRE_CHAOS_CLIENTS (JSON): one
 * list of channels per client. Speaks over IPC:
 *
 * 1. → `{ type: 'ready' }` once every client is connected and every subscription confirmed;
 * 2. ← `{ type: 'measure' }` (optional): the flood's measured part begins; the process's own load
 *    figures (CPU, event-loop delay) are taken from here instead of from `ready`;
 * 3. ← `{ type: 'published', byChannel, since? }`: what the publisher process stored (a
 *    FloodResult's byChannel), fed into each client's audit;
 * 4. → `{ type: 'report', reports, latenciesMs, warmup? }` once every client has caught up: one
 *    audit report per client, and one latency sample per delivered event stamped at or after
 *    `since` — receipt time (`performance.timeOrigin + performance.now()`) minus the event's
 *    `ctx.time`, the stamp the publisher's writer put on it when it sent the batch to Redis
 *    (Date.now of that process); the events stamped before `since` (a warm-up) are summed up in
 *    `warmup` (count, p50, p99, max).
 *
 * At any time (S2): ← `{ type: 'states', id, since, detail }` → `{ type: 'states', id, reopened,
 * changes? }`: how many clients are open again with an `open` at or after `since` (Date.now), and
 * with `detail` each client's state changes since then (in fleet order), so the test process can
 * measure a reconnect wave without holding the clients itself.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { createNodeClient, type NodeClient } from 'agentwire/node'
import { createAudit, type Audit, type AuditReport } from './audit'

interface Settings {
  url: string
  clients: string[][]
  heartbeat: { intervalMs: number; timeoutMs: number }
  catchUpTimeoutMs: number
  /** Backoff of every client. @default { initialDelayMs: 50, maxDelayMs: 1000, stableAfterMs: 500 } */
  reconnect?: { initialDelayMs: number; maxDelayMs: number; stableAfterMs: number }
}

/** One state change of a client with its time (Date.now), as the S2 reconnect measurements need. */
interface Change {
  t: number
  from: string
  to: string
  code?: number
  /** On a change to `reconnecting`: the delay the backoff chose for the next attempt, so a wave can be read as scheduled, before this process's event loop delays the timers. */
  delayMs?: number
}
const changesOf = new Map<NodeClient, Change[]>()
const retryDelayOf = new Map<NodeClient, { ms?: number }>()

const s = JSON.parse(process.env.AGENTWIRE_CHAOS_CLIENTS ?? '{}') as Settings
const latencies: number[] = []
/** The writer's stamp of each latency sample (same order): the report's per-second spread is keyed by it. */
const sentAt: number[] = []
const fleet: Array<{ client: NodeClient; audit: Audit; channels: string[]; states: string[]; trace: string[] }> = []

/** Resolves once the message is written: a disconnect or exit right after send() would drop it. */
function send(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return resolve()
    process.send(message, undefined, {}, (err) => (err ? reject(err) : resolve()))
  })
}

async function start(): Promise<void> {
  for (const channels of s.clients) {
    // The client's own account of its connection (gaps, closes), the last few lines, so a client
    // that does not catch up says what it saw.
    const trace: string[] = []
    const retry: { ms?: number } = {}
    const client = createNodeClient({
      debug: (message, data) => {
        if (message === 'reconnecting') retry.ms = Number(data?.delayMs)
        if (message === 'state') return
        trace.push(`${message}${data ? ' ' + JSON.stringify(data) : ''}`)
        if (trace.length > 12) trace.shift()
      },
      url: s.url,
      environment: null,
      autoConnect: false,
      heartbeat: s.heartbeat,
      reconnect: s.reconnect ?? { initialDelayMs: 50, maxDelayMs: 1000, stableAfterMs: 500 },
      connectTimeoutMs: 5000,
      requestTimeoutMs: 30_000,
    })
    retryDelayOf.set(client, retry)
    const audit = createAudit()
    audit.attach(client)
    client.on('event', (_e, ctx) => {
      if (ctx.time !== undefined) {
        latencies.push(performance.timeOrigin + performance.now() - ctx.time)
        sentAt.push(ctx.time)
      }
    })
    const states: string[] = []
    client.on('state', (c) => void states.push(`${c.previous}>${c.current}:${c.reason?.code ?? ''}`))
    fleet.push({ client, audit, channels, states, trace })
  }
  // Nothing connects before the first subscribe below, so this sees every change.
  for (const { client } of fleet) {
    const changes: Change[] = []
    changesOf.set(client, changes)
    const retry = retryDelayOf.get(client)!
    client.on('state', (c) => void changes.push({ t: Date.now(), from: c.previous, to: c.current, ...(c.reason?.code === undefined ? {} : { code: c.reason.code }), ...(c.current === 'reconnecting' && retry.ms !== undefined ? { delayMs: retry.ms } : {}) }))
  }
  // In slices of 50 clients, so the gateway's handshake limit and this process's event loop
  // are never flooded by hundreds of simultaneous joins.
  for (let i = 0; i < fleet.length; i += 50) {
    await Promise.all(fleet.slice(i, i + 50).flatMap((m) => m.channels.map((c) => m.client.subscribe(c).ready)))
  }
  await send({ type: 'ready' })
  startWindow()
}

/**
 * This process's own load from `ready` (or the later `measure`) to `published` (the flood, for L4): event-loop delay,
 * CPU share of one core, event-loop utilisation. Tells a latency tail made here (the clients'
 * handlers and audits fell behind) from one made upstream.
 */
interface ProcessFigures {
  wallMs: number
  cpuShare: number
  eventLoopUtilization: number
  loopDelayP50Ms: number
  loopDelayP99Ms: number
  loopDelayMaxMs: number
}
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
let span: { cpu: NodeJS.CpuUsage; wall: number; elu: ReturnType<typeof performance.eventLoopUtilization> } | undefined
let figures: ProcessFigures | undefined
function startWindow(): void {
  loopDelay.reset()
  loopDelay.enable()
  span = { cpu: process.cpuUsage(), wall: performance.now(), elu: performance.eventLoopUtilization() }
}
function closeWindow(): void {
  if (!span || figures) return
  const cpu = process.cpuUsage(span.cpu)
  const wallMs = performance.now() - span.wall
  loopDelay.disable()
  const ms = (ns: number) => Math.round(ns / 1e4) / 100
  figures = {
    wallMs: Math.round(wallMs),
    cpuShare: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 1000,
    eventLoopUtilization: Math.round(performance.eventLoopUtilization(span.elu).utilization * 1000) / 1000,
    loopDelayP50Ms: ms(loopDelay.percentile(50)),
    loopDelayP99Ms: ms(loopDelay.percentile(99)),
    loopDelayMaxMs: ms(loopDelay.max),
  }
}

/** Count, p50, p99 and max of latency samples (sorted here), ms to a tenth. */
function spread(samples: number[]): { n: number; p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(samples).sort()
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
  const r = (n: number) => Math.round(n * 10) / 10
  return { n: sorted.length, p50: r(at(50)), p99: r(at(99)), max: r(at(100)) }
}

/**
 * Per bucket of the writer's stamps from `since` (1 s, or AGENTWIRE_CHAOS_LATENCY_BUCKET_MS):
 * samples, p50, p99 and max latency, so a tail can be placed in time.
 */
function latencyBySecond(since: number): Array<{ s: number; n: number; p50: number; p99: number; max: number }> {
  const bucketMs = Number(process.env.AGENTWIRE_CHAOS_LATENCY_BUCKET_MS ?? 1000)
  const buckets: number[][] = []
  for (let i = 0; i < sentAt.length; i++) if (sentAt[i]! >= since) (buckets[Math.floor((sentAt[i]! - since) / bucketMs)] ??= []).push(latencies[i]!)
  return buckets.flatMap((b, s) => (b ? [{ s, ...spread(b) }] : []))
}

async function finish(byChannel: Record<string, { epoch: string; first: number; stamps: number[] }>, since: number | undefined): Promise<void> {
  closeWindow()
  for (const m of fleet) {
    for (const channel of m.channels) {
      const c = byChannel[channel]
      if (c) m.audit.publishedRange(channel, c.epoch, c.first, c.first + c.stamps.length - 1, (seq) => c.stamps[seq - c.first]!)
    }
  }
  const waits = await Promise.allSettled(fleet.map((m) => m.audit.waitCaughtUp(s.catchUpTimeoutMs)))
  const stuck = fleet.filter((_, i) => waits[i]!.status === 'rejected')
  if (stuck.length > 0) {
    // Which clients, where, and what their connections did: tells a gateway-wide stall (every
    // client of a channel at one position) from one connection's.
    const lagging = stuck.slice(0, 5).map((m) => `client ${fleet.indexOf(m)} [${m.states.join(' ')}]: ${m.audit.describe().split('; ').filter((d) => !/published (\d+), seen \1$/.test(d)).join('; ')} stats: ${JSON.stringify(m.client.stats)} trace: ${m.trace.join(' / ')}`)
    throw new Error(`${stuck.length} of ${fleet.length} clients not caught up after ${s.catchUpTimeoutMs} ms: ${lagging.join(' | ')}`)
  }
  const reports: AuditReport[] = fleet.map((m) => {
    const r = m.audit.report()
    return { ...r, problems: r.problems.slice(0, 3) }
  })
  // Two decimals: the samples travel as JSON, and 10 µs is far below what is being judged.
  const measured: number[] = []
  const warm: number[] = []
  for (let i = 0; i < latencies.length; i++) (since === undefined || sentAt[i]! >= since ? measured : warm).push(Math.round(latencies[i]! * 100) / 100)
  let first = since ?? Infinity
  if (since === undefined) for (const t of sentAt) first = Math.min(first, t)
  await send({ type: 'report', reports, latenciesMs: measured, ...(since === undefined ? {} : { warmup: spread(warm) }), process: figures, latencyBySecond: latencyBySecond(first) })
  for (const m of fleet) m.client.close()
}

process.on('message', (m: { type: string; byChannel?: Record<string, { epoch: string; first: number; stamps: number[] }>; since?: number }) => {
  if (m.type === 'measure') {
    if (!figures) startWindow()
    return
  }
  if (m.type !== 'published' || !m.byChannel) return
  finish(m.byChannel, m.since).then(
    () => process.disconnect?.(),
    async (error: Error) => {
      await send({ type: 'failed', message: error.message }).catch(() => undefined)
      process.exit(1)
    },
  )
})
process.on('message', (m: { type: string; id?: number; since?: number; detail?: boolean }) => {
  if (m.type !== 'states') return
  const since = m.since ?? 0
  const recent = fleet.map(({ client }) => (changesOf.get(client) ?? []).filter((c) => c.t >= since))
  const reopened = fleet.filter(({ client }, i) => client.state === 'open' && recent[i]!.some((c) => c.to === 'open')).length
  void send({ type: 'states', id: m.id, reopened, ...(m.detail ? { changes: recent } : {}) }).catch(() => undefined)
})
process.on('disconnect', () => process.exit(0))

start().catch(async (error: Error) => {
  await send({ type: 'failed', message: error.message }).catch(() => undefined)
  process.exit(1)
})
