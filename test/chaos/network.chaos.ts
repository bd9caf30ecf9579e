import { describe, expect, it } from 'vitest'
import type { StoredEvent } from 'agentwire/server'
import { createPublisher, redisBroker } from 'agentwire/server'
import { startFaultProxy } from '../support/fault-proxy'
import { deletePrefix, REDIS_URL, uniquePrefix } from '../redis/helpers'
import { agentEvent, createAudit, stateMismatches, tierA, tierB, type Audit } from './support/audit'
import { activeResources, heapAfterGc, percentile, recordFigures, scale, until } from './support/results'
import { B, C, H, T, chaosClient, cleanup, gatewayOn, stateLog, yieldIo } from './support/stack'

const defer = cleanup()

/** Publishes `total` events on `channel` in bursts of `burst`, calling `at(i)` before event i. */
async function stream(total: number, publish: (i: number) => Promise<StoredEvent>, audit: Audit, at: (i: number) => void | Promise<void> = () => undefined, burst = 50): Promise<void> {
  for (let i = 0; i < total; i += burst) {
    await at(i)
    const stored = await Promise.all(Array.from({ length: Math.min(burst, total - i) }, (_, j) => publish(i + j)))
    for (const e of stored) audit.published({ channel: e.channel, epoch: e.epoch, seq: e.seq, stamp: (e.event.payload as { load: number }).load })
    await yieldIo()
  }
}

describe('N1 gateway restart with 1012 mid-stream (Redis broker, publisher in the test)', () => {
  it('N1: reconnects, resumes each channel once on the new gateway, and the audit finds nothing lost, repeated or reordered', async () => {
    const prefix = uniquePrefix('chaos-n1')
    defer(() => deletePrefix(prefix))
    const retention = { size: 50_000, maxAgeMs: 120_000 }
    const publisher = createPublisher({ url: REDIS_URL, prefix, retention })
    defer(() => publisher.close())
    const asked: Array<{ gateway: number; channel: string; action: string }> = []
    let generation = 1
    const startOne = async (port = 0) => {
      const g = generation
      const broker = redisBroker({ url: REDIS_URL, prefix, retention, onError: () => undefined })
      const gateway = await gatewayOn({ port, broker, authorize: (_p, channel, action) => (asked.push({ gateway: g, channel, action }), true) })
      defer(() => broker.close())
      defer(() => gateway.close({ drainMs: 100 }))
      return { gateway, broker }
    }
    const first = await startOne()
    const proxy = await startFaultProxy({ port: first.gateway.port })
    defer(() => proxy.close())

    const channels = ['agent:n1a', 'agent:n1b', 'agent:n1c']
    const audit = createAudit()
    let scheduledMs = Number.NaN
    const client = chaosClient(proxy.url(), { debug: (m, d) => void (m === 'reconnecting' && Number.isNaN(scheduledMs) && (scheduledMs = Number(d?.delayMs))) })
    defer(() => client.close())
    audit.attach(client)
    const states = stateLog(client)
    for (const channel of channels) client.subscribe(channel)
    await client.ready()
    await until(() => asked.length === channels.length, () => `subscribed ${asked.length}`)

    const TOTAL = 6000
    let closedAt = 0
    await stream(TOTAL, (i) => publisher.publish(channels[i % 3]!, agentEvent(channels[i % 3]!.slice(6), i)), audit, async (i) => {
      if (i !== 2000) return
      // A rolling restart: the next gateway is up behind the same address before the old one closes.
      generation = 2
      const next = await startOne()
      proxy.retarget(next.gateway.port)
      closedAt = Date.now()
      await first.gateway.close({ drainMs: 200 })
    })
    await audit.waitCaughtUp(60_000)

    const report = audit.report()
    const reconnecting = states.find((s) => s.from === 'open' && s.to === 'reconnecting')
    // From the moment the client saw the 1012 to its first new TCP connection.
    const sawClose = reconnecting?.t ?? Number.NaN
    const attempts = proxy.log.filter((e) => e.kind === 'connect' && e.t >= sawClose)
    const firstAttemptMs = (attempts[0]?.t ?? Number.NaN) - sawClose
    const resumed = asked.filter((a) => a.gateway === 2)
    recordFigures('N1', 'N1: reconnects, resumes each channel once on the new gateway', {
      events: TOTAL,
      closeCode: reconnecting?.code,
      closeSeenAfterMs: sawClose - closedAt,
      scheduledDelayMs: Math.round(scheduledMs),
      firstAttemptMs,
      firstAttemptBoundMs: 2 * B + 50,
      subscribesOnNewGateway: resumed.length,
      ...report,
      problems: report.problems.slice(0, 3),
    })
    expect(reconnecting?.code).toBe(1012)
    expect(states.at(-1)?.to).toBe('open')
    // One subscribe (here: a resume inside hello) per channel on the new connection, no more.
    expect(resumed.map((a) => a.channel).sort()).toEqual([...channels].sort())
    expect(resumed.every((a) => a.action === 'resume')).toBe(true)
    expect(report.problems).toEqual([])
    expect(tierA(report)).toBe(true)
    // The first attempt is due within the first backoff step's upper bound (2B) + 50 ms.
    expect(firstAttemptMs).toBeLessThanOrEqual(2 * B + 50)
  })
})

describe('N2 abrupt loss: TCP RST and FIN without a close frame during a 10,000-event stream', () => {
  for (const fault of ['reset', 'fin'] as const) {
    it(`N2: ${fault === 'reset' ? 'RST' : 'FIN'} surfaces as 1006, is retried, and the audit passes (Tier A)`, async () => {
      const gateway = await gatewayOn({ retention: { size: 50_000, maxAgeMs: 120_000 } })
      defer(() => gateway.close({ drainMs: 100 }))
      const proxy = await startFaultProxy({ port: gateway.port })
      defer(() => proxy.close())
      const audit = createAudit()
      const client = chaosClient(proxy.url())
      defer(() => client.close())
      audit.attach(client)
      const states = stateLog(client)
      const channel = `agent:n2${fault}`
      await client.subscribe(channel).ready

      const TOTAL = 10_000
      let faultAt = 0
      await stream(TOTAL, (i) => gateway.publish(channel, agentEvent(channel.slice(6), i)), audit, (i) => {
        if (i !== 3000) return
        faultAt = Date.now()
        if (fault === 'reset') proxy.reset()
        else proxy.fin()
      })
      await audit.waitCaughtUp(60_000)

      const report = audit.report()
      const lost = states.find((s) => s.from === 'open' && s.t >= faultAt)
      const detectionMs = (lost?.t ?? Number.NaN) - faultAt
      recordFigures(`N2-${fault}`, `N2: ${fault} surfaces as 1006, is retried, and the audit passes`, {
        events: TOTAL,
        closeCode: lost?.code,
        detectionMs,
        reconnects: client.stats.reconnects,
        wireDuplicatesDropped: client.stats.duplicates,
        ...report,
        problems: report.problems.slice(0, 3),
      })
      expect(lost?.to).toBe('reconnecting')
      expect(lost?.code).toBe(1006)
      expect(states.at(-1)?.to).toBe('open')
      expect(report.problems).toEqual([])
      expect(tierA(report)).toBe(true)
      expect(detectionMs).toBeLessThan(100)
    })
  }
})
