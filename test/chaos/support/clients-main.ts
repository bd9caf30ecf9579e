/**
 * A fleet of clients in their own process (L4), so their decoding, handlers and audits do not
 * share a process with anything being measured, nor measure each other's backlog in the test
 * process. Started by `forkClients()` with its settings in AGENTWIRE_CHAOS_CLIENTS (JSON): one
 * list of channels per client. Speaks over IPC:
 *
 * 1. → `{ type: 'ready' }` once every client is connected and every subscription confirmed;
 * 2. ← `{ type: 'published', byChannel }`: what the publisher process stored (a FloodResult's
 *    byChannel), fed into each client's audit;
 * 3. → `{ type: 'report', reports, latenciesMs }` once every client has caught up: one audit
 *    report per client, and one latency sample per delivered event — receipt time
 *    (`performance.timeOrigin + performance.now()`) minus the event's `ctx.time`, the stamp the
 *    publisher's writer put on it when it sent the batch to Redis (Date.now of that process).
 *
 * At any time (S2): ← `{ type: 'states', id, since, detail }` → `{ type: 'states', id, reopened,
 * changes? }`: how many clients are open again with an `open` at or after `since` (Date.now), and
 * with `detail` each client's state changes since then (in fleet order), so the test process can
 * measure a reconnect wave without holding the clients itself.
 */
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
      if (ctx.time !== undefined) latencies.push(performance.timeOrigin + performance.now() - ctx.time)
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
}

async function finish(byChannel: Record<string, { epoch: string; first: number; stamps: number[] }>): Promise<void> {
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
  await send({ type: 'report', reports, latenciesMs: latencies.map((l) => Math.round(l * 100) / 100) })
  for (const m of fleet) m.client.close()
}

process.on('message', (m: { type: string; byChannel?: Record<string, { epoch: string; first: number; stamps: number[] }> }) => {
  if (m.type !== 'published' || !m.byChannel) return
  finish(m.byChannel).then(
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
