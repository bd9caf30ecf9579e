import { afterEach, describe, expect, it } from 'vitest'
import { createClient, type Client } from 'agentwire'
import { agui } from 'agentwire/agui'
import { startFaultProxy } from '../support/fault-proxy'
import { startTestAgent } from './agent-server'
import { until } from '../server/support/core'

/**
 * `createClient` pointed at an AG-UI agent through the `agentwire/agui` dialect: the same store as
 * from a gateway (messages, tool calls, steps, shared state), and, honestly, what a drop costs
 * when nothing in between keeps positions: the run ends failed with the text received so far.
 */

const closers: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})


describe('the AG-UI dialect', () => {
  it('runs the agent and builds the same store: text, tool call with arguments and result, steps, state', async () => {
    const agent = await startTestAgent()
    closers.push(() => agent.close())
    const client: Client = createClient({ url: agent.url, ...agui() })
    closers.push(() => client.close())
    const run = client.start({ query: 'What is the answer?', requestId: 'r1' })
    agent.resume()
    agent.resume()
    await expect(run.result).resolves.toEqual({ answer: 42 })
    const request = client.getSnapshot().requests.r1!
    expect(request.messages).toEqual([
      { kind: 'text', id: 'm1', role: 'assistant', text: 'The answer is forty-two.', status: 'done' },
      { kind: 'tool', id: 'c1', name: 'lookup', parentMessageId: 'm1', args: '{"q":"life"}', status: 'done', result: '42', resultMessageId: 't1' },
    ])
    expect(request.state).toEqual({ count: 1, items: ['life'] })
    expect(request.steps).toMatchObject([{ stepId: 'answer', status: 'completed' }])
    expect(agent.inputs[0]).toMatchObject({ runId: 'r1', messages: [{ role: 'user', content: 'What is the answer?' }] })
  })

  it('a drop mid-message: the run fails with the text received so far; nothing is resumed (AG-UI has no positions)', async () => {
    const agent = await startTestAgent()
    closers.push(() => agent.close())
    const proxy = await startFaultProxy({ port: Number(new URL(agent.url).port) })
    closers.push(() => proxy.close())
    const client = createClient({ url: `http://${proxy.host}:${proxy.port}/agent`, ...agui() })
    closers.push(() => client.close())
    const run = client.start({ query: 'What is the answer?', requestId: 'r1' })
    const outcome = run.result.then(
      () => 'completed',
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    )
    await agent.paused()
    await until(() => (client.getSnapshot().requests.r1?.messages?.[0] as { text?: string } | undefined)?.text === 'The answer is ', () => JSON.stringify(client.getSnapshot().requests.r1))
    proxy.reset()
    expect(await outcome).toMatch(/stream was cut/)
    const request = client.getSnapshot().requests.r1!
    expect(request.status).toBe('failed')
    expect(request.messages).toEqual([{ kind: 'text', id: 'm1', role: 'assistant', text: 'The answer is ', status: 'open' }])
  })

  it('cancel aborts the run and ends the request as cancelled', async () => {
    const agent = await startTestAgent()
    closers.push(() => agent.close())
    const client = createClient({ url: agent.url, ...agui() })
    closers.push(() => client.close())
    const run = client.start({ query: 'q', requestId: 'r1' })
    const settled = run.result.then(
      () => 'completed',
      () => 'rejected',
    )
    await agent.paused()
    await run.cancel('enough')
    expect(await settled).toBe('rejected')
    await until(() => client.getSnapshot().requests.r1?.status === 'cancelled', () => JSON.stringify(client.getSnapshot().requests.r1))
  })
})
