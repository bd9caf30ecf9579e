import { loadavg } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { createPublisher } from 'agentwire/redis'
import { DEFAULT_HEARTBEAT } from 'agentwire/server'
import { startFaultProxy } from '../support/fault-proxy'
import { deletePrefix, rawClient, REDIS_URL, uniquePrefix } from '../redis/helpers'
import { agentEvent, createAudit, tierA, type Audit } from './support/audit'
import { cpuShare, floodFromProcess, forkClients, forkGateway, type FloodResult } from './support/fork'
import { LONG, percentile, recordFigures, scale, timeoutFor, until } from './support/results'
import { chaosClient, cleanup, ticker } from './support/stack'

const defer = cleanup()

/** Feeds a flood's per-channel report into the audits of that channel. */
function feed(result: FloodResult, auditsOf: (channel: string) => readonly Audit[]): void {
  for (const [channel, c] of Object.entries(result.byChannel)) {
    for (const audit of auditsOf(channel)) audit.publishedRange(channel, c.epoch, c.first, c.first + c.stamps.length - 1, (seq) => c.stamps[seq - c.first]!)
  }
}

/**
 * The catalogue's 20,000 events/s. (Runs at this rate once "exited without reporting": the
 * publisher process dropped its own report by disconnecting before the IPC write finished,
 * see publisher-main.ts; every publish had settled.) AGENTWIRE_CHAOS_L1_RATE overrides it.
 */
const L1_RATE = Number(process.env.AGENTWIRE_CHAOS_L1_RATE ?? 20_000)

/** L1's bound on the client's event-loop delay p99: the catalogue's 50 ms in long mode, 1 s in quick mode. */
const L1_LOOP_DELAY_P99_BOUND_MS = scale(1000, 50)

describe('L1 flood to one client through Redis', () => {
  it('L1: a flood to one client through Redis: 0 loss, event-loop delay p99 < 50 ms (long mode)', async () => {
    const prefix = uniquePrefix('chaos-l1')
    defer(() => deletePrefix(prefix))
    const retentionSize = 1_000_000
    const gateway = await forkGateway({ redisUrl: REDIS_URL, prefix, retentionSize, limits: { maxBufferedBytes: 64 * 1024 * 1024 } })
    defer(() => gateway.kill('SIGKILL'))
    await gateway.start()
    const channel = 'agent:flood'
    const audit = createAudit()
    const client = chaosClient(gateway.url)
    defer(() => client.close())
    audit.attach(client)
    const states: string[] = []
    client.on('state', (s) => void states.push(`${s.previous}>${s.current}:${s.reason?.code ?? ''}`))
    await client.subscribe(channel).ready
    const heapBefore = process.memoryUsage().heapUsed
    const delay = monitorEventLoopDelay({ resolution: 10 })
    delay.enable()
    const durationMs = scale(5_000, 30_000)
    const result = await floodFromProcess({ redisUrl: REDIS_URL, prefix, retentionSize, channels: [channel], rate: L1_RATE, durationMs })
    feed(result, () => [audit])
    await audit.waitCaughtUp(120_000)
    delay.disable()
    const report = audit.report()
    recordFigures('L1', 'L1: 20,000 events/s to one client', {
      targetRate: L1_RATE,
      catalogueRate: 20_000,
      achievedRate: result.rate,
      publisherMaxLagMs: result.maxLagMs,
      durationMs: result.elapsedMs,
      eventLoopDelayP50Ms: +(delay.percentile(50) / 1e6).toFixed(1),
      eventLoopDelayP99Ms: +(delay.percentile(99) / 1e6).toFixed(1),
      eventLoopDelayMaxMs: +(delay.max / 1e6).toFixed(1),
      eventLoopDelayP99BoundMs: L1_LOOP_DELAY_P99_BOUND_MS,
      loadAverage: loadavg().map((l) => +l.toFixed(2)),
      heapGrowthMB: +((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20).toFixed(1),
      connectionChanges: states,
      ...report,
      problems: report.problems.slice(0, 3),
    })
    expect(report.problems).toEqual([])
    expect(tierA(report)).toBe(true)
    // The catalogue's p99 < 50 ms, asserted in long mode (the long run measured 28 ms). Quick runs
    // share the 2 cores with the gateway, Redis, the publisher and other runs (26–67 ms measured):
    // there the figure is recorded and only a stall (> 1 s) fails.
    expect(delay.percentile(99) / 1e6).toBeLessThan(L1_LOOP_DELAY_P99_BOUND_MS)
  })
})

/**
 * L4's heartbeat: the production default (25 s / 10 s) on both sides, not the catalogue's
 * integration timings (H = T = 250 ms). L4 measures the fan-out (PUBLISH → handler latency,
 * loss, the gateway's memory and CPU), not liveness: with 250 ms on a shared 2-core machine any
 * of the five processes stalled past 250 ms (a GC pause, a starved CPU) has sockets dropped
 * mid-flood, and p50/p99 then measure reconnects and replays, not the fan-out (quick runs at load
 * ≈ 10: 192–413 heartbeat drops, p50 2.4–3.0 s, p99 6.5–8.9 s). Liveness under load is what N1–N7
 * and S2 measure. AGENTWIRE_CHAOS_L4_HEARTBEAT_MS=250 runs L4 on H = T = 250 ms, where it still
 * checks that every event arrives once and in order through the reconnects (it once found a
 * channel whose every viewer had left and come back at once stalling silently in the fan-out);
 * the latency bounds are then not asserted.
 */
const L4_HEARTBEAT_MS = process.env.AGENTWIRE_CHAOS_L4_HEARTBEAT_MS ? Number(process.env.AGENTWIRE_CHAOS_L4_HEARTBEAT_MS) : undefined
const L4_HEARTBEAT = L4_HEARTBEAT_MS ? { intervalMs: L4_HEARTBEAT_MS, timeoutMs: L4_HEARTBEAT_MS } : { ...DEFAULT_HEARTBEAT }

/**
 * L4's warm-up: the flood runs this long at its full rate before the measured part. A fresh
 * process runs a new code path interpreted until V8 has compiled it (the gateway's fan-out, the
 * clients' decoding), and the publisher's first ticks wait for its connection and go out in one
 * burst: from a cold start on a quiet machine, the first 1.5 s ran at p50 70–160 ms and p99 up to
 * 270 ms in the clients (the gateway settled after 0.3 s), the seconds after at p50 5–7 ms and p99
 * 8–16 ms; on a loaded one the cold start's backlog took seconds to drain. The catalogue's
 * latency is the steady fan-out's; the warm-up's events are audited like the others and their
 * latency is recorded (`warmupLatency`), not asserted. AGENTWIRE_CHAOS_L4_WARMUP_MS overrides it
 * (0 measures from a cold start).
 */
const L4_WARMUP_MS = Number(process.env.AGENTWIRE_CHAOS_L4_WARMUP_MS ?? scale(2_000, 3_000))

/**
 * L4's bounds. Long mode: the catalogue's, exactly: PUBLISH → handler p50 < 20 ms and p99 <
 * 250 ms; gateway RSS < 500 MB; the gateway's CPU "not pegged", taken as its process's CPU time
 * (`process.cpuUsage()`, user + system, every thread) below 90 % of one core's over the flood.
 * Quick mode keeps the RSS and CPU bounds, but its latency bounds are ones the shared 2-core
 * machine holds while other runs load it (p50 < 2 s, p99 < 5 s: at load averages of 5–14, p50
 * 0.2–0.9 s and p99 0.7–1.6 s were measured; 7 ms and 15–25 ms in its quiet seconds), while a
 * stall of seconds still fails (a reconnect wave: p99 6.5–8.9 s; a broker holding every
 * channel during one subscribe: 2.6 s); the figures are recorded either way.
 */
const L4_BOUNDS = {
  p50Ms: scale(2000, 20),
  p99Ms: scale(5000, 250),
  gatewayRssMB: 500,
  gatewayCpuShare: 0.9,
}

describe('L4 fan-out: many clients, 5 of N channels each', () => {
  it('L4: every client gets every event of its channels (0 loss); PUBLISH → handler p50/p99, gateway RSS and CPU within bounds', async () => {
    const clients = scale(200, 2000)
    const channelCount = scale(50, 500)
    const prefix = uniquePrefix('chaos-l4')
    defer(() => deletePrefix(prefix))
    const retentionSize = 100_000
    const heartbeat = L4_HEARTBEAT
    const gateway = await forkGateway({ redisUrl: REDIS_URL, prefix, retentionSize, heartbeat, limits: { maxPendingHandshakes: 10_000 } })
    defer(() => gateway.kill('SIGKILL'))
    await gateway.start()
    const channels = Array.from({ length: channelCount }, (_, i) => `agent:l4c${i}`)
    const subscriptions = Array.from({ length: clients }, (_, i) => Array.from({ length: 5 }, (_, k) => channels[(i * 5 + k) % channelCount]!))
    // The clients live in two processes of their own (the catalogue: "clients generated from a
    // separate process"): in the test process their handlers and audits fell seconds behind at
    // ~12,000 deliveries/s, and that backlog, not the system, was what p50/p99 measured.
    const halves = [subscriptions.slice(0, clients / 2), subscriptions.slice(clients / 2)]
    const fleets = await Promise.all(halves.map((mine) => forkClients({ url: gateway.url, clients: mine, heartbeat, catchUpTimeoutMs: scale(30_000, 120_000) })))
    for (const f of fleets) defer(() => f.kill())
    await Promise.all(fleets.map((f) => f.ready))
    const durationMs = scale(5_000, 30_000)
    // The flood runs L4_WARMUP_MS first (see there): its events are audited like the rest, its
    // latencies are recorded apart. The gateway's window and the client processes' own figures
    // start with the measured part and end once the publisher stored its last event.
    let opened: Promise<unknown> = Promise.resolve()
    const onStart = () => {
      opened = gateway.mark()
      for (const f of fleets) f.measure()
    }
    const result = await floodFromProcess({ redisUrl: REDIS_URL, prefix, retentionSize, channels, rate: 1000, durationMs, warmupMs: L4_WARMUP_MS, onStart })
    await opened
    const during = await gateway.mark()
    const audited = await Promise.all(fleets.map((f) => f.audit(result.byChannel, result.measuredFrom)))
    const probe = await gateway.probe()
    const reports = audited.flatMap((a) => a.reports)
    const latencies = audited.flatMap((a) => a.latenciesMs)
    const lost = reports.reduce((n, r) => n + r.lost, 0)
    const delivered = reports.reduce((n, r) => n + r.delivered, 0)
    const expected = subscriptions.reduce((n, mine) => n + mine.reduce((m, c) => m + (result.byChannel[c]?.stamps.length ?? 0), 0), 0)
    const warmupSamples = audited.reduce((n, a) => n + (a.warmup?.n ?? 0), 0)
    const p50 = percentile(latencies, 50)
    const p99 = percentile(latencies, 99)
    const rssMB = Math.max(during.rss, probe.rss) / 2 ** 20
    const cpu = cpuShare(during)
    recordFigures('L4', 'L4: fan-out', {
      clients,
      heartbeat,
      clientProcesses: fleets.length,
      channels: channelCount,
      subscriptionsPerClient: 5,
      publishRate: result.rate,
      publisherMaxLagMs: result.maxLagMs,
      deliveries: delivered,
      expectedDeliveries: expected,
      deliveriesPerSecond: Math.round(((delivered - warmupSamples) * 1000) / result.elapsedMs),
      warmupMs: L4_WARMUP_MS,
      warmupLatency: audited.map((a) => a.warmup),
      lost,
      duplicates: reports.reduce((n, r) => n + r.duplicates, 0),
      silentGaps: reports.reduce((n, r) => n + r.silentGaps, 0),
      resyncs: reports.reduce((n, r) => n + r.resyncs, 0),
      latencySamples: latencies.length,
      p50Ms: +p50.toFixed(1),
      p90Ms: +percentile(latencies, 90).toFixed(1),
      p99Ms: +p99.toFixed(1),
      maxMs: +percentile(latencies, 100).toFixed(1),
      bounds: L4_BOUNDS,
      gatewayRssMB: Math.round(rssMB),
      gatewayCpuShare: +cpu.toFixed(3),
      floodWindowMs: Math.round(during.wallMs),
      gatewayEventLoopUtilization: +during.eventLoopUtilization.toFixed(3),
      gatewayLoopDelayMs: during.loopDelayMs,
      gatewayArrivalMs: during.arrivalMs,
      gatewayArrivalSeries: during.arrivalSeries,
      gatewayFannedOutMs: during.fannedOutMs,
      gatewayDrops: during.stats.drops,
      clientProcessLoad: audited.map((a) => a.process),
      latencyBySecond: audited.map((a) => a.latencyBySecond),
      loadAverage: loadavg().map((l) => +l.toFixed(2)),
      problems: reports.flatMap((r) => r.problems).slice(0, 3),
    })
    expect(reports.flatMap((r) => r.problems).slice(0, 3)).toEqual([])
    expect(reports.every(tierA)).toBe(true)
    expect(lost).toBe(0)
    expect(delivered).toBe(expected)
    expect(latencies.length + warmupSamples).toBe(delivered)
    expect(latencies.length).toBeGreaterThanOrEqual(result.measured * 20)
    // The catalogue's 1,000 events/s, within 5 % (start-up and the last round trips count in the elapsed time).
    if (LONG) expect(result.rate).toBeGreaterThanOrEqual(950)
    expect(rssMB).toBeLessThan(L4_BOUNDS.gatewayRssMB)
    expect(cpu).toBeLessThan(L4_BOUNDS.gatewayCpuShare)
    if (L4_HEARTBEAT_MS !== undefined) return
    // On the production heartbeat the gateway drops no connection (for any cause) and no channel
    // loses continuity: the latency measured is the fan-out's, not a reconnect's.
    expect(during.stats.drops).toEqual({})
    expect(reports.reduce((n, r) => n + r.resyncs, 0)).toBe(0)
    expect(p50).toBeLessThan(L4_BOUNDS.p50Ms)
    expect(p99).toBeLessThan(L4_BOUNDS.p99Ms)
  })
})

/** L6's churn: 20 s quick, the catalogue's 30 min long; the test's timeout follows it. */
const L6_DURATION_MS = scale(20_000, 30 * 60_000)
/**
 * The warm-up before it, same churn: the catalogue's heap criterion is "flat after warm-up". The
 * first long soak's heap went 13.1 -> 16.4 MB from a gateway that had served no one (code compiled
 * and caches filled on first use); the same +3 MB after 57,000 sessions as after 129,000.
 */
const L6_WARMUP_MS = scale(5_000, 2 * 60_000)

describe('L6 soak: churn with a flapping link', () => {
  it('L6: clients come and go through a flapping proxy; afterwards the gateway holds 0 connections and subscriptions, Redis holds no subscription of ours, heap and handles flat', async () => {
    const durationMs = L6_DURATION_MS
    const population = scale(40, 500)
    const prefix = uniquePrefix('chaos-l6')
    defer(() => deletePrefix(prefix))
    const gateway = await forkGateway({ redisUrl: REDIS_URL, prefix, retentionSize: 1000 })
    defer(() => gateway.kill('SIGKILL'))
    await gateway.start()
    const baseline = await gateway.probe()
    const proxy = await startFaultProxy({ port: gateway.port }, { seed: 6 })
    defer(() => proxy.close())
    const publisher = createPublisher({ url: REDIS_URL, prefix, retention: { size: 1000, maxAgeMs: 600_000 } })
    defer(() => publisher.close())
    const channels = Array.from({ length: 10 }, (_, i) => `agent:l6c${i}`)
    const warnings: string[] = []
    const onWarning = (w: Error) => void warnings.push(w.name)
    process.on('warning', onWarning)
    defer(() => process.off('warning', onWarning))

    const pub = ticker(channels, (c, i) => publisher.publish(c, agentEvent(c.slice(6), i)), () => [], 100, 1)
    const stopFlap = proxy.flap({ seed: 6, faults: ['reset', 'fin', 'blackhole'], durationMs: { min: 500, max: 3000 } })
    let endAt = Date.now() + L6_WARMUP_MS
    let sessions = 0
    let failures = 0
    const reports: Array<ReturnType<Audit['sequenceReport']>> = []
    // Each slot: connect, subscribe 2 channels, stay 1–10 s (quick: 0.5–3 s), leave; again until the end.
    const slot = async (k: number) => {
      let n = k
      while (Date.now() < endAt) {
        n += population
        const mine = [channels[n % 10]!, channels[(n * 7 + 3) % 10]!].filter((c, i, a) => a.indexOf(c) === i)
        const client = chaosClient(proxy.url())
        const audit = createAudit()
        audit.attach(client)
        sessions++
        try {
          for (const c of mine) client.subscribe(c)
          await client.ready(15_000).catch(() => undefined)
          await new Promise((r) => setTimeout(r, scale(500, 1000) + ((n * 7919) % scale(2500, 9000))))
        } catch {
          failures++
        } finally {
          client.close()
          reports.push(audit.sequenceReport())
        }
      }
    }
    const quiet = () => until(async () => {
      const p = await gateway.probe()
      return p.stats.connections === 0 && p.stats.pendingHandshakes === 0 && p.stats.subscriptions.total === 0
    }, () => 'gateway still holds connections', 30_000, 200)
    // Warm-up, then every client gone: the heap the soak must stay within 10 % of.
    await Promise.all(Array.from({ length: population }, (_, k) => slot(k)))
    await quiet()
    const warm = await gateway.probe()
    const warmupSessions = sessions
    endAt = Date.now() + durationMs
    await Promise.all(Array.from({ length: population }, (_, k) => slot(k)))
    stopFlap()
    await pub.stop()
    await quiet()
    const redis = await rawClient()
    const ours = async () => {
      const channelsLeft = (await redis.sendCommand(['PUBSUB', 'CHANNELS', `${prefix}:*`])) as string[]
      return channelsLeft.length
    }
    await until(async () => (await ours()) === 0, () => 'redis subscriptions left', 10_000, 200)
    const left = await ours()
    await redis.close()
    const after = await gateway.probe()
    // Churned audits only say what happened inside each session (Tier B: nothing silent, nothing twice).
    const bad = reports.filter((r) => r.duplicates + r.reordered + r.silentGaps > 0)
    recordFigures('L6', 'L6: soak with churn and flapping', {
      durationMs,
      population,
      sessions,
      failures,
      flapSteps: proxy.totals.modeChanges,
      warmupMs: L6_WARMUP_MS,
      warmupSessions,
      gatewayHeapColdMB: +(baseline.heapUsed / 2 ** 20).toFixed(1),
      gatewayHeapAfterWarmupMB: +(warm.heapUsed / 2 ** 20).toFixed(1),
      gatewayHeapAfterMB: +(after.heapUsed / 2 ** 20).toFixed(1),
      gatewayHeapRatio: +(after.heapUsed / warm.heapUsed).toFixed(3),
      gatewayHandlesBefore: baseline.handles,
      gatewayHandlesAfter: after.handles,
      gatewayConnectionsAfter: after.stats.connections,
      gatewaySubscriptionsAfter: after.stats.subscriptions.total,
      redisSubscriptionsLeft: left,
      maxListenersWarnings: warnings.filter((w) => w === 'MaxListenersExceededWarning').length,
      sessionAuditFailures: bad.length,
      eventsDelivered: reports.reduce((n, r) => n + r.delivered, 0),
      resyncs: reports.reduce((n, r) => n + r.resyncs, 0),
      silentGaps: reports.reduce((n, r) => n + r.silentGaps, 0),
      duplicates: reports.reduce((n, r) => n + r.duplicates, 0),
    })
    expect(after.stats.connections).toBe(0)
    expect(after.stats.subscriptions.total).toBe(0)
    expect(left).toBe(0)
    expect(after.handles).toBeLessThanOrEqual(baseline.handles)
    // Flat within 10 % of the heap after the warm-up (both measured with no client, after GC).
    expect(after.heapUsed).toBeLessThanOrEqual(warm.heapUsed * 1.1)
    expect(warnings.filter((w) => w === 'MaxListenersExceededWarning')).toEqual([])
    expect(bad.map((r) => r.problems)).toEqual([])
  }, timeoutFor(L6_WARMUP_MS + L6_DURATION_MS))
})
