import { afterEach, describe, expect, it } from 'vitest'
import type { ResyncInfo } from 'agentwire'
import type { AgentEvent } from 'agentwire/protocol'
import { createNodeClient, type NodeClient } from 'agentwire/node'
import { createGateway, type Broker, type Gateway } from 'agentwire/server'
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy'
import { connect, open, subscribe } from './client'
import type { Registry } from './registry'
import { until } from './core'
import { recovery } from 'agentwire/recovery'
import { memoryStorage } from '../../support/storage'

/**
 * Hole 1 of issue 17: a client follows `task:*`, loses its link, and a channel `task:t-9` is
 * born and publishes while it is away. Back, its handlers must see the new channel from its
 * first event (inside the replay window) or a `resync` (beyond it), never start at #21 in
 * silence. Real gateway on 127.0.0.1, the client's link cut through a fault proxy. Shared by
 * the memory broker (test/server) and Redis (test/redis).
 */

export interface BirthBrokerOptions {
  /** The window's age limit; the broker reads the time from `now`, so a test can age events out. */
  readonly maxAgeMs: number
  readonly now: () => number
}
export type MakeBirthBroker = (options: BirthBrokerOptions) => Promise<{ broker: Broker; cleanup(): Promise<void> }>

export const decision = (taskId: string, i: number): AgentEvent => ({ type: 'routing.decision', payload: { taskId, agent: { name: `agent-${i}` } } })

export { until }

export interface BirthStack {
  readonly gateway: Gateway
  readonly proxy: FaultProxy
  readonly client: NodeClient
  /** The broker's clock, in ms; starts at the real time. */
  readonly clock: { t: number }
  /** Every event the handlers saw under the pattern, as `channel#seq`, in order. */
  readonly seen: string[]
  /** Events of the new channel the client marked as replayed. */
  readonly replayed: string[]
  readonly resyncs: ResyncInfo[]
  /** Cuts the client's link (TCP reset) and keeps it down until `up()`. */
  drop(): Promise<() => Promise<void>>
  publish(channel: string, from: number, to: number): Promise<void>
}

export function birthStacks(makeBroker?: MakeBirthBroker): (subscribe?: boolean) => Promise<BirthStack> {
  const open: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const close of open.splice(0).reverse()) await close()
  })
  return async (subscribe = true) => {
    const clock = { t: Date.now() }
    const made = makeBroker ? await makeBroker({ maxAgeMs: 60_000, now: () => clock.t }) : undefined
    if (made) open.push(() => made.cleanup())
    const gateway = createGateway({ port: 0, host: '127.0.0.1', ...(made ? { broker: made.broker } : { retention: { maxAgeMs: 60_000 } }) })
    open.push(() => gateway.close({ drainMs: 0 }))
    await gateway.ready
    const proxy = await startFaultProxy({ port: gateway.port })
    open.push(() => proxy.close())
    const client = createNodeClient({ url: proxy.url('/ws'), reconnect: { initialDelayMs: 10, maxDelayMs: 50 } })
    open.push(async () => client.close())
    const stack: BirthStack = {
      gateway,
      proxy,
      client,
      clock,
      seen: [],
      replayed: [],
      resyncs: [],
      async drop() {
        proxy.setMode('refuse')
        proxy.reset()
        await until(() => client.state !== 'open', () => `client still ${client.state}`)
        return async () => {
          proxy.setMode('pass')
          await until(() => client.state === 'open', () => `client ${client.state}`)
        }
      },
      async publish(channel, from, to) {
        for (let i = from; i <= to; i++) await gateway.publish(channel, decision(channel.slice(5), i))
      },
    }
    client.on('event', (_e, ctx) => {
      if (!ctx.channel.startsWith('task:')) return
      stack.seen.push(`${ctx.channel}#${ctx.seq}`)
      if (ctx.replayed) stack.replayed.push(`${ctx.channel}#${ctx.seq}`)
    })
    client.on('resync', (info) => stack.resyncs.push(info))
    if (subscribe) await client.subscribe('task:*').ready
    await client.ready()
    return stack
  }
}

const on = (seen: readonly string[], channel: string) => seen.filter((s) => s.startsWith(`${channel}#`)).map((s) => Number(s.slice(channel.length + 1)))
const upTo = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

export function patternBirthSuite(brokerName: string, makeBroker?: MakeBirthBroker): void {
  const start = birthStacks(makeBroker)

  describe(`a channel born under a pattern while the client is away (${brokerName})`, () => {
    it.each([
      ['no other channel', false],
      ['a position on another channel', true],
    ])('inside the window, with %s: handlers see #1-#20 replayed, then live, exactly once, in order', async (_label, other) => {
      const s = await start()
      if (other) {
        await s.publish('task:t-1', 1, 3)
        await until(() => on(s.seen, 'task:t-1').length === 3, () => s.seen.join(' '))
      }
      const up = await s.drop()
      await s.publish('task:t-9', 1, 20)
      await up()
      await until(() => on(s.seen, 'task:t-9').length >= 20, () => s.seen.join(' '))
      s.clock.t = Date.now()
      await s.publish('task:t-9', 21, 25)
      if (other) await s.publish('task:t-1', 4, 4)
      await until(() => on(s.seen, 'task:t-9').length >= 25 && (!other || on(s.seen, 'task:t-1').length >= 4), () => s.seen.join(' '))

      expect(on(s.seen, 'task:t-9')).toEqual(upTo(1, 25))
      expect(s.replayed.filter((r) => r.startsWith('task:t-9#'))).toHaveLength(20)
      expect(s.resyncs).toEqual([])
      if (other) expect(on(s.seen, 'task:t-1')).toEqual(upTo(1, 4))
      // The store holds what the broker's own snapshot of the channel says.
      const snapshot = await s.gateway.broker.snapshot('task:t-9')
      expect(s.client.getSnapshot().decisions.filter((d) => d.taskId === 't-9')).toEqual(snapshot.state.decisions)
    })

    it('beyond the window (its first events aged out): a resync for the new channel, then its state and live events', async () => {
      const s = await start()
      const up = await s.drop()
      await s.publish('task:t-9', 1, 20)
      // Two minutes later #21 comes: #1-#20 are older than the 60 s window and leave it.
      s.clock.t += 120_000
      await s.publish('task:t-9', 21, 21)
      await up()
      await until(() => s.resyncs.some((r) => r.channel === 'task:t-9'), () => `resyncs ${JSON.stringify(s.resyncs)}, seen ${s.seen.join(' ')}`)
      await s.publish('task:t-9', 22, 22)
      await until(() => on(s.seen, 'task:t-9').includes(22), () => s.seen.join(' '))

      expect(s.resyncs).toEqual([{ channel: 'task:t-9', reason: 'window' }])
      expect(on(s.seen, 'task:t-9')).toEqual([22])
      const snapshot = await s.gateway.broker.snapshot('task:t-9')
      expect(s.client.getSnapshot().decisions.filter((d) => d.taskId === 't-9')).toEqual(snapshot.state.decisions)
    })

    it('across a reload: the pattern position is saved with the positions, and the next page gets the channel born meanwhile from #1', async () => {
      const s = await start(false)
      const storage = memoryStorage()
      const page = () => {
        const listeners = new Map<string, Set<() => void>>()
        const environment = {
          navigator: { onLine: true },
          document: { visibilityState: 'visible' },
          addEventListener: (type: string, l: () => void) => void (listeners.get(type) ?? listeners.set(type, new Set()).get(type)!).add(l),
          removeEventListener: (type: string, l: () => void) => void listeners.get(type)?.delete(l),
        }
        const client = createNodeClient({ url: `${s.gateway.url}`, ...recovery({ storage }), environment })
        const seen: string[] = []
        const resyncs: ResyncInfo[] = []
        client.on('event', (_e, ctx) => void seen.push(`${ctx.channel}#${ctx.seq}`))
        client.on('resync', (r) => void resyncs.push(r))
        const hide = () => {
          environment.document.visibilityState = 'hidden'
          for (const l of listeners.get('visibilitychange') ?? []) l()
        }
        return { client, seen, resyncs, hide }
      }
      const first = page()
      await first.client.subscribe('task:*').ready
      await s.publish('task:t-1', 1, 2)
      await until(() => first.seen.length === 2, () => first.seen.join(' '))
      first.hide()
      first.client.close()
      const saved = JSON.parse([...storage.items.values()][0]!) as { channels: Array<{ channel: string }> }
      expect(saved.channels.map((c) => c.channel).sort()).toEqual(['task:*', 'task:t-1'])

      await s.publish('task:t-9', 1, 20)
      const second = page()
      try {
        await second.client.subscribe('task:*').ready
        await s.publish('task:t-1', 3, 3)
        await until(() => on(second.seen, 'task:t-9').length >= 20 && on(second.seen, 'task:t-1').length >= 1, () => second.seen.join(' '))
        expect(on(second.seen, 'task:t-9')).toEqual(upTo(1, 20))
        expect(on(second.seen, 'task:t-1')).toEqual([3])
        expect(second.resyncs).toEqual([])
      } finally {
        second.client.close()
      }
    })

    it('on the wire: a pattern position handed out before the replay arrived still brings the new channel from #1', async () => {
      const s = await start(false)
      const closers: Array<() => unknown> = []
      const registry: Registry = { track: (r) => (closers.push(typeof r === 'function' ? r : () => r.close()), r) }
      try {
        const first = await open(s.gateway.url, registry)
        const reply = await subscribe(first, ['task:*'])
        const p1 = reply.result[0].position as { epoch: string; seq: number }
        expect(p1).toMatchObject({ epoch: expect.any(String), seq: expect.any(Number) })
        first.close()
        await s.publish('task:t-9', 1, 20)

        // Back with the pattern's position: the channel born since comes from #1. This
        // connection is lost before the client reads any of it...
        const resume = (p: { epoch: string; seq: number }) => ({ resume: [{ channel: 'task:*', resume: [{ channel: 'task:*', ...p }] }] })
        const second = await connect(s.gateway.url, registry)
        const welcome = await second.hello(resume(p1))
        expect(welcome.subscriptions[0]).toMatchObject({ ok: true, channel: 'task:*', recovered: true })
        const p2 = welcome.subscriptions[0].position as { epoch: string; seq: number }
        await second.waitForFrame((f) => f.type === 'event' && f.channel === 'task:t-9' && f.seq === 20)
        second.close()

        // ...so the position it was handed must bring the channel from #1 again, not a silent `initial`.
        const third = await connect(s.gateway.url, registry)
        await third.hello(resume(p2))
        await third.waitForFrame((f) => f.type === 'event' && f.channel === 'task:t-9' && f.seq === 20)
        expect(third.frames.filter((f) => f.type === 'event' && f.channel === 'task:t-9').map((f) => f.seq)).toEqual(upTo(1, 20))
        expect(third.frames.filter((f) => f.type === 'state' && f.channel === 'task:t-9')).toEqual([])

        // A position given after the client had the channel: a fresh subscribe covers it with its state.
        const fourth = await open(s.gateway.url, registry)
        const again = await subscribe(fourth, ['task:*'])
        await fourth.waitForFrame((f) => f.type === 'state' && f.channel === 'task:t-9')
        const p3 = again.result[0].position as { epoch: string; seq: number }
        fourth.close()
        const fifth = await connect(s.gateway.url, registry)
        await fifth.hello({ resume: [{ channel: 'task:*', resume: [{ channel: 'task:*', ...p3 }, { channel: 'task:t-9', epoch: (await s.gateway.broker.snapshot('task:t-9')).epoch, seq: 20 }] }] })
        await s.publish('task:t-9', 21, 21)
        await fifth.waitForFrame((f) => f.type === 'event' && f.channel === 'task:t-9' && f.seq === 21)
        expect(fifth.frames.filter((f) => f.channel === 'task:t-9').map((f) => `${f.type}#${f.seq}`)).toEqual(['event#21'])
      } finally {
        for (const close of closers) close()
      }
    })
  })
}
