import { expect, it } from 'vitest'
import { createNodeClient } from 'agentwire/node'
import { createGateway, type Gateway } from 'agentwire/server'
import { redisBroker } from 'agentwire/redis'
import type { MessageView } from 'agentwire/protocol'
import { ownRedisSuite } from '../redis/redis-server'
import { startFaultProxy } from '../support/fault-proxy'
import { startTestAgent } from './agent-server'

/**
 * An AG-UI run through several gateways on one Redis: gateway A runs the agent, the watcher
 * follows it on gateway B, loses its link mid-message, then B is replaced by a fresh gateway C
 * mid-arguments. Positions are the broker's, the same on every gateway, so the watcher ends with
 * the text and the arguments exactly once.
 */

const { suite, redis, open } = ownRedisSuite('test/agui/redis')

async function until(predicate: () => boolean, what: () => string, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

suite('AG-UI across gateways on Redis', () => {
  it('a watcher on another gateway, dropped mid-message and moved to a new gateway mid-arguments, gets everything once', async () => {
    const agent = await startTestAgent()
    open.push({ close: () => agent.close() })
    const prefix = `agui-${process.pid}-${Date.now()}`
    const gatewayOn = async (agui?: string): Promise<Gateway> => {
      const broker = redisBroker({ url: redis().url, prefix, onError: () => undefined })
      const gateway = createGateway({ port: 0, broker, ...(agui ? { agui } : {}) })
      await gateway.ready
      open.push({ close: () => gateway.close({ drainMs: 0 }).then(() => broker.close()) })
      return gateway
    }
    const a = await gatewayOn(agent.url)
    const b = await gatewayOn()
    const proxy = await startFaultProxy({ port: b.port })
    open.push({ close: () => proxy.close() })

    const watcher = createNodeClient({ url: proxy.url('/ws'), reconnect: { initialDelayMs: 10, maxDelayMs: 50 } })
    open.push({ close: async () => watcher.close() })
    const pieces: string[] = []
    watcher.on('message.delta', (e) => pieces.push(e.payload.delta))
    watcher.on('tool.call.args', (e) => pieces.push(e.payload.delta))
    watcher.subscribe('request:r1')
    await watcher.ready()
    const starter = createNodeClient({ url: a.url })
    open.push({ close: async () => starter.close() })
    const run = starter.start({ query: 'What is the answer?', requestId: 'r1' })
    await run.accepted

    const transcript = (): readonly MessageView[] => watcher.getSnapshot().requests.r1?.messages ?? []
    await agent.paused()
    await until(() => (transcript()[0] as { text?: string } | undefined)?.text === 'The answer is ', () => JSON.stringify(transcript()))
    proxy.setMode('refuse')
    proxy.reset()
    agent.resume()
    await agent.paused()
    proxy.setMode('pass')
    await until(() => (transcript()[1] as { args?: string } | undefined)?.args === '{"q":', () => JSON.stringify(transcript()))

    // Gateway B goes away; a fresh gateway C on the same Redis takes its place behind the proxy.
    const c = await gatewayOn()
    proxy.retarget(c.port)
    await b.close({ drainMs: 0 })
    agent.resume()
    await expect(run.result).resolves.toEqual({ answer: 42 })
    await until(() => watcher.getSnapshot().requests.r1?.status === 'completed', () => JSON.stringify(watcher.getSnapshot().requests.r1))

    expect(transcript()).toEqual([
      { kind: 'text', id: 'm1', role: 'assistant', text: 'The answer is forty-two.', status: 'done' },
      { kind: 'tool', id: 'c1', name: 'lookup', parentMessageId: 'm1', args: '{"q":"life"}', status: 'done', result: '42', resultMessageId: 't1' },
    ])
    expect(pieces.join('')).toBe('The answer is forty-two.{"q":"life"}')
    expect(watcher.getSnapshot().requests.r1?.state).toEqual({ count: 1, items: ['life'] })
  })
})
