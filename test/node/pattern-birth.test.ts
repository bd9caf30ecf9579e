import { describe, expect, it } from 'vitest'
import { memoryBroker } from 'agentwire/server'
import { birthStacks, until } from '../server/support/pattern-birth'

/**
 * The README's Node example, `for await (… of client.events('task:*'))`, "iterates over every
 * routing decision": a task that starts while the link is down must not lose its first ones.
 */
const start = birthStacks(async ({ maxAgeMs, now }) => {
  const broker = memoryBroker({ retention: { maxAgeMs }, clock: { now } })
  return { broker, cleanup: () => broker.close() }
})

describe("client.events('task:*') across a reconnect", () => {
  it('yields every routing decision of a task started while the link was down, first one included', async () => {
    const s = await start(false)
    const got: string[] = []
    const loop = (async () => {
      for await (const { event, channel, seq } of s.client.events('task:*')) {
        if (event.type === 'routing.decision') got.push(`${channel}#${seq} ${event.payload.agent.name}`)
        if (channel === 'task:t-9' && seq === 25) break
      }
    })()
    await s.client.subscribe('task:*').ready
    await s.publish('task:t-1', 1, 2)
    await until(() => got.length === 2, () => got.join(', '))

    const up = await s.drop()
    await s.publish('task:t-9', 1, 20)
    await up()
    await until(() => got.length >= 22, () => got.join(', '))
    await s.publish('task:t-9', 21, 25)
    await loop

    expect(got.filter((g) => g.startsWith('task:t-9#'))).toEqual(Array.from({ length: 25 }, (_, i) => `task:t-9#${i + 1} agent-${i + 1}`))
    expect(got.slice(0, 2)).toEqual(['task:t-1#1 agent-1', 'task:t-1#2 agent-2'])
    expect(s.resyncs).toEqual([])
  })
})
