import { describe, expect, it } from 'vitest'
import type { EnvironmentLike } from 'agentwire'
import { recovery } from 'agentwire/recovery'
import { startFaultProxy } from '../support/fault-proxy'
import { agentEvent, createAudit, stateMismatches, tierA } from './support/audit'
import { recordFigures, until } from './support/results'
import { chaosClient, cleanup, gatewayOn, stateLog, ticker } from './support/stack'
import { memoryStorage } from '../support/storage'

const defer = cleanup()

/** A page's window and document, enough for the client's online/visibility/pagehide handling. */
function fakePage() {
  const listeners = new Map<string, Set<() => void>>()
  const on = (type: string, l: () => void) => void (listeners.get(type) ?? listeners.set(type, new Set()).get(type)!).add(l)
  const off = (type: string, l: () => void) => void listeners.get(type)?.delete(l)
  const document = { visibilityState: 'visible', addEventListener: on, removeEventListener: off }
  const env = { addEventListener: on, removeEventListener: off, navigator: { onLine: true }, document } satisfies EnvironmentLike
  const fire = (type: string) => {
    for (const l of [...(listeners.get(type) ?? [])]) l()
  }
  return { env, document, fire }
}


describe('C4 on the real stack: back online after an unclean close', () => {
  it('C4: `online` after an RST reconnects at once instead of waiting out a long backoff, and the audit passes', async () => {
    const gateway = await gatewayOn({ retention: { size: 50_000, maxAgeMs: 120_000 } })
    defer(() => gateway.close({ drainMs: 100 }))
    const proxy = await startFaultProxy({ port: gateway.port })
    defer(() => proxy.close())
    const page = fakePage()
    const audit = createAudit()
    // A backoff far longer than the test: only `online` can bring the client back in time.
    const client = chaosClient(proxy.url(), { environment: page.env, reconnect: { initialDelayMs: 20_000, maxDelayMs: 30_000 } })
    defer(() => client.close())
    audit.attach(client)
    const states = stateLog(client)
    const channel = 'agent:c4'
    await client.subscribe(channel).ready
    const pub = ticker([channel], (c, i) => gateway.publish(c, agentEvent('c4', i)), () => [audit], 20, 5)
    await until(() => pub.count() > 200, () => 'warming up')
    proxy.reset()
    await until(() => client.state === 'reconnecting', () => `client ${client.state}`, 5000)
    const onlineAt = Date.now()
    page.fire('online')
    await until(() => client.state === 'open', () => `client ${client.state}`, 5000)
    const reopenedMs = Date.now() - onlineAt
    await until(() => pub.count() > 600, () => 'publishing after')
    await pub.stop()
    await audit.waitCaughtUp(30_000)
    const report = audit.report()
    recordFigures('C4', 'C4: online after an RST reconnects at once', { reopenedAfterOnlineMs: reopenedMs, backoffMs: 20_000, ...report, problems: report.problems.slice(0, 3) })
    expect(states.some((s) => s.from === 'open' && s.code === 1006)).toBe(true)
    expect(reopenedMs).toBeLessThan(2000)
    expect(report.problems).toEqual([])
    expect(tierA(report)).toBe(true)
  })
})

describe('C7 on the real stack: a page reload inside the replay window', () => {
  it('C7: the reloaded page (same sessionStorage) resumes from the saved positions: across both pages every event once, in order', async () => {
    const gateway = await gatewayOn({ retention: { size: 50_000, maxAgeMs: 120_000 } })
    defer(() => gateway.close({ drainMs: 100 }))
    const storage = memoryStorage()
    const audit = createAudit()
    const channels = ['agent:c7a', 'agent:c7b']
    const first = fakePage()
    const before = chaosClient(gateway.url, { environment: first.env, ...recovery({ storage }) })
    defer(() => before.close())
    audit.attach(before)
    await Promise.all(channels.map((c) => before.subscribe(c).ready))
    const pub = ticker(channels, (c, i) => gateway.publish(c, agentEvent(c.slice(6), i)), () => [audit], 20, 5)
    await until(() => pub.count() > 300, () => 'warming up')
    // Unload: hidden, pagehide (the client saves), then the page and its socket are gone.
    first.document.visibilityState = 'hidden'
    first.fire('visibilitychange')
    first.fire('pagehide')
    before.close()
    const savedBytes = [...storage.items.values()].reduce((n, v) => n + v.length, 0)
    await until(() => pub.count() > 600, () => 'publishing while no page is open')
    const second = fakePage()
    const after = chaosClient(gateway.url, { environment: second.env, ...recovery({ storage }) })
    defer(() => after.close())
    audit.attach(after)
    const resyncs: string[] = []
    after.on('resync', (r) => void resyncs.push(`${r.channel}:${r.reason}`))
    for (const c of channels) after.subscribe(c)
    await after.ready()
    await until(() => pub.count() > 900, () => 'publishing after the reload')
    await pub.stop()
    await audit.waitCaughtUp(30_000)
    const report = audit.report()
    const mismatches = await stateMismatches(after, channels, (c) => gateway.broker.snapshot(c))
    recordFigures('C7', 'C7: page reload with sessionStorage inside the window', { savedBytes, resyncsSeen: resyncs, stateMismatches: mismatches.length, ...report, problems: report.problems.slice(0, 3) })
    expect(savedBytes).toBeGreaterThan(0)
    expect(resyncs).toEqual([])
    expect(report.problems).toEqual([])
    expect(tierA(report)).toBe(true)
    expect(mismatches).toEqual([])
  })
})
