/**
 * A gateway in its own process, for the chaos runs that kill it (S1, S2) or measure it alone
 * (L1, L4, L6). Started by `forkGateway()` with its settings in AGENTWIRE_CHAOS_GATEWAY (JSON).
 * It says `{ type: 'ready', port }` over IPC once listening, answers `{ type: 'probe' }` with
 * its stats, heap after a forced GC and active handles, answers `{ type: 'mark' }` (no GC, so it
 * can be asked mid-flood) with what it measured since the previous mark (CPU, event-loop delay
 * and utilisation, and per event the time from the writer's stamp to the broker handing it to
 * the fan-out and to the fan-out having written it to every socket), and drains on SIGTERM
 * (1012 to every client, then exit).
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { createGateway, type Broker } from 'agentwire/server'
import { redisBroker } from 'agentwire/redis'

interface Settings {
  port: number
  redisUrl: string
  prefix: string
  retentionSize: number
  heartbeat: { intervalMs: number; timeoutMs: number }
  drainMs: number
  /** The reconnect window the drain's 1012s ask for; the gateway's default when absent. */
  reconnectWindowMs?: number
  limits?: Record<string, unknown>
}

const settings = JSON.parse(process.env.AGENTWIRE_CHAOS_GATEWAY ?? '{}') as Settings
const broker = redisBroker({ url: settings.redisUrl, prefix: settings.prefix, retention: { size: settings.retentionSize, maxAgeMs: 600_000 }, onError: () => undefined })

// Per live event, in ms from the writer's `time` stamp (Date.now of the publishing process):
// when the broker hands it to the fan-out, and when the fan-out has passed it to every socket
// (written or corked until the end of the tick). Only what the broker delivers live is
// measured; replays to a resuming client go around the broker listener. Recording starts at the
// first mark (a gateway never marked, as in the L6 soak, keeps nothing) and stops at a bound.
const MAX_SAMPLES = 2_000_000
let recording = false
const wallNow = () => performance.timeOrigin + performance.now()
let arrivals: number[] = []
let fannedOut: number[] = []
/** The writer's stamp of each arrival sample (same order), for the series by time. */
let stamps: number[] = []
const measured: Broker = {
  ...broker,
  subscribe: (pattern, listener) =>
    broker.subscribe(pattern, {
      event(stored) {
        if (!recording || arrivals.length >= MAX_SAMPLES) return listener.event(stored)
        const t0 = wallNow()
        arrivals.push(t0 - stored.time)
        stamps.push(stored.time)
        listener.event(stored)
        fannedOut.push(wallNow() - stored.time)
      },
      ...(listener.resync ? { resync: listener.resync.bind(listener) } : {}),
    }),
}
const gateway = createGateway({ port: settings.port, host: '127.0.0.1', broker: measured, heartbeat: settings.heartbeat, ...(settings.limits ? { limits: settings.limits } : {}) })

const send = (message: unknown) => process.send?.(message)

gateway.ready.then(
  () => send({ type: 'ready', port: gateway.port }),
  (error: Error) => {
    send({ type: 'failed', message: error.message })
    process.exit(1)
  },
)

// Enabled at the first mark, like the samples above.
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
let lastCpu = process.cpuUsage()
let lastWall = performance.now()
let lastElu = performance.eventLoopUtilization()

/** Nearest-rank percentile of sorted samples. */
function pct(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}
const round = (n: number) => Math.round(n * 10) / 10
/** Arrival spread per bucket of the writer's stamps (AGENTWIRE_CHAOS_LATENCY_BUCKET_MS, default 1 s), from the first. */
function series(): Array<{ s: number; n: number; p50: number; p99: number; max: number }> {
  if (stamps.length === 0) return []
  const bucketMs = Number(process.env.AGENTWIRE_CHAOS_LATENCY_BUCKET_MS ?? 1000)
  let first = Infinity
  for (const t of stamps) first = Math.min(first, t)
  const buckets: number[][] = []
  for (let i = 0; i < stamps.length; i++) (buckets[Math.floor((stamps[i]! - first) / bucketMs)] ??= []).push(arrivals[i]!)
  return buckets.flatMap((b, s) => (b ? [{ s, ...summary(b) }] : []))
}

function summary(samples: number[]) {
  const sorted = Float64Array.from(samples).sort()
  return { n: sorted.length, p50: round(pct(sorted, 50)), p99: round(pct(sorted, 99)), max: round(pct(sorted, 100)) }
}

process.on('message', (message: { type: string; id: number }) => {
  if (message.type === 'mark') {
    const cpu = process.cpuUsage(lastCpu)
    const wall = performance.now()
    const elu = performance.eventLoopUtilization(lastElu)
    send({
      type: 'mark',
      id: message.id,
      wallMs: wall - lastWall,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      eventLoopUtilization: elu.utilization,
      loopDelayMs: { p50: round(loopDelay.percentile(50) / 1e6), p99: round(loopDelay.percentile(99) / 1e6), max: round(loopDelay.max / 1e6) },
      arrivalSeries: series(),
      arrivalMs: summary(arrivals),
      fannedOutMs: summary(fannedOut),
      rss: process.memoryUsage().rss,
      stats: gateway.stats(),
    })
    lastCpu = process.cpuUsage()
    lastWall = performance.now()
    lastElu = performance.eventLoopUtilization()
    loopDelay.reset()
    loopDelay.enable()
    recording = true
    arrivals = []
    fannedOut = []
    stamps = []
    return
  }
  if (message.type !== 'probe') return
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  send({
    type: 'probe',
    id: message.id,
    stats: gateway.stats(),
    heapUsed: process.memoryUsage().heapUsed,
    rss: process.memoryUsage().rss,
    handles: process.getActiveResourcesInfo().filter((r) => r !== 'Timeout' && r !== 'Immediate').length,
  })
})

let stopping = false
process.on('SIGTERM', () => {
  if (stopping) return
  stopping = true
  void gateway
    .close({ drainMs: settings.drainMs, reconnectWindowMs: settings.reconnectWindowMs })
    .then(() => broker.close())
    .finally(() => process.exit(0))
})
process.on('disconnect', () => process.exit(0))
