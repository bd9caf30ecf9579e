import { describe, expect, it } from 'vitest'
import { redisBroker } from 'agentwire/redis'
import type { Gateway } from 'agentwire/server'
import { connect, open, subscribe } from '../server/support/client'
import { startGateway } from '../server/support/gateway'
import { decision, patternBirthSuite } from '../server/support/pattern-birth'
import { createRegistry } from '../server/support/registry'
import { deletePrefix, REDIS_URL, uniquePrefix } from './helpers'

patternBirthSuite('Redis broker', async ({ maxAgeMs, now }) => {
  const prefix = uniquePrefix('birth')
  const broker = redisBroker({ url: REDIS_URL, prefix, retention: { maxAgeMs }, now, onError: () => undefined })
  return {
    broker,
    async cleanup() {
      await broker.close()
      await deletePrefix(prefix)
    },
  }
})

describe('a pattern position on two gateways of one Redis', () => {
  const registry = createRegistry()

  it('handed out by one gateway, honoured by the other: the channel born meanwhile comes from #1', async () => {
    const prefix = uniquePrefix('birth2')
    registry.track(() => deletePrefix(prefix))
    const gateways = await Promise.all(
      [1, 2].map(() => {
        const broker = redisBroker({ url: REDIS_URL, prefix, onError: () => undefined })
        registry.track(() => broker.close())
        return startGateway(registry, { broker })
      }),
    )
    const [a, b] = gateways as [Gateway, Gateway]
    await b.publish('task:t-1', decision('t-1', 1))
    const first = await open(a.url, registry)
    const mark = (await subscribe(first, ['task:*'])).result[0].position as { epoch: string; seq: number }
    expect(mark.seq).toBeGreaterThanOrEqual(1)
    first.close()

    for (let i = 1; i <= 20; i++) await b.publish('task:t-9', decision('t-9', i))
    const second = await connect(b.url, registry)
    const welcome = await second.hello({ resume: [{ channel: 'task:*', resume: [{ channel: 'task:*', ...mark }] }] })
    expect(welcome.subscriptions[0]).toMatchObject({ ok: true, recovered: true, position: { epoch: mark.epoch, seq: mark.seq } })
    await second.waitForFrame((f) => f.type === 'event' && f.channel === 'task:t-9' && f.seq === 20)
    expect(second.frames.filter((f) => f.channel === 'task:t-9').map((f) => `${f.type}#${f.seq}`)).toEqual(Array.from({ length: 20 }, (_, i) => `event#${i + 1}`))
    // The channel the client had before its mark comes as its state, as for any first subscribe.
    expect(second.frames.filter((f) => f.channel === 'task:t-1').map((f) => `${f.type} ${f.reason}`)).toEqual(['state initial'])
  })
})
