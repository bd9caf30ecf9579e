import { afterEach, describe, expect, it } from 'vitest'
import { HttpAgent, type BaseEvent } from '@ag-ui/client'
import { EventType, type RunAgentInput } from '@ag-ui/core'
import { EventSchemas } from '@ag-ui/core/schemas'
import { createClient, type Client } from 'agentwire'
import { agui } from 'agentwire/agui'
import { createNodeClient } from 'agentwire/node'
import { createGateway } from 'agentwire/server'
import type { AgentEvent, UntypedEvent } from 'agentwire/protocol'
import { startFaultProxy } from '../support/fault-proxy'
import { PAUSE, startTestAgent, type Step } from './agent-server'
import { until } from '../server/support/core'

/**
 * AG-UI events with no canonical event of their own (CUSTOM, RAW, REASONING_*, ACTIVITY_*, a type
 * nobody knows) are never dropped: they become `request.custom` on the request's channel, so they
 * reach `client.on('event')`, get positions at the gateway (a client that drops gets them replayed,
 * once), and the gateway's AG-UI endpoint gives them back as CUSTOM / RAW.
 */

const closers: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})


const CUSTOM = { type: EventType.CUSTOM, name: 'progress', value: { pct: 50 } } as BaseEvent
const RAW = { type: EventType.RAW, event: { vendor: 'thinking' }, source: 'llm' } as BaseEvent
const REASONING = { type: EventType.REASONING_START, messageId: 'th1' } as BaseEvent

function script(input: RunAgentInput): Step[] {
  const { threadId, runId } = input
  return [{ type: EventType.RUN_STARTED, threadId, runId } as BaseEvent, CUSTOM, PAUSE, RAW, REASONING, { type: EventType.RUN_FINISHED, threadId, runId } as BaseEvent]
}

type Custom = Extract<AgentEvent, { type: 'request.custom' }>
const customs = (events: Array<AgentEvent | UntypedEvent>) => events.filter((e): e is Custom => e.type === 'request.custom').map((e) => ({ name: e.payload.name, value: e.payload.value, raw: e.payload.raw }))
const expected = [
  { name: 'progress', value: { pct: 50 }, raw: CUSTOM },
  { name: 'RAW', value: { vendor: 'thinking' }, raw: RAW },
  { name: 'REASONING_START', raw: REASONING },
]

describe('AG-UI events without a canonical event of their own', () => {
  it('through the gateway: reach on("event") as request.custom, survive a drop (replayed once), and come out of the AG-UI endpoint as CUSTOM / RAW', async () => {
    const agent = await startTestAgent(script)
    closers.push(() => agent.close())
    const gateway = createGateway({ port: 0, agui: agent.url, aguiEndpoint: true })
    await gateway.ready
    closers.push(() => gateway.close({ drainMs: 0 }))
    const proxy = await startFaultProxy({ port: gateway.port })
    closers.push(() => proxy.close())
    const client = createNodeClient({ url: proxy.url('/ws'), reconnect: { initialDelayMs: 10, maxDelayMs: 50 } })
    closers.push(() => client.close())
    const seen: Array<AgentEvent | UntypedEvent> = []
    client.on('event', (e) => void seen.push(e))
    client.subscribe('request:r1')
    await client.ready()

    // An AG-UI frontend runs the agent through the gateway's endpoint and watches it live.
    const frontend = new HttpAgent({ url: `http://127.0.0.1:${gateway.port}/agui` })
    const out: BaseEvent[] = []
    const run = frontend.runAgent({ runId: 'r1' }, { onEvent: ({ event }) => void out.push(structuredClone(event)) })

    await agent.paused()
    await until(() => customs(seen).length === 1, () => JSON.stringify(seen))
    // Down while the agent says the rest.
    proxy.setMode('refuse')
    proxy.reset()
    await until(() => client.state !== 'open', () => client.state)
    agent.resume()
    await run
    proxy.setMode('pass')
    await until(() => seen.some((e) => e.type === 'request.completed'), () => JSON.stringify(seen))

    expect(customs(seen)).toEqual(expected)
    expect(seen.filter((e) => e.type === 'request.custom')[0]).toMatchObject({ payload: { requestId: 'r1' } })

    for (const e of out) expect(EventSchemas.safeParse(e).success, JSON.stringify(e)).toBe(true)
    expect(out.filter((e) => e.type === 'CUSTOM' || e.type === 'RAW')).toEqual([
      { type: 'CUSTOM', name: 'progress', value: { pct: 50 } },
      { type: 'RAW', event: { vendor: 'thinking' }, source: 'llm' },
      { type: 'RAW', event: REASONING, source: 'agui' },
    ])
  })

  it('through the AG-UI dialect: the same request.custom events reach on("event")', async () => {
    const agent = await startTestAgent(script)
    closers.push(() => agent.close())
    const client: Client = createClient({ url: agent.url, ...agui() })
    closers.push(() => client.close())
    const seen: Array<AgentEvent | UntypedEvent> = []
    client.on('event', (e) => void seen.push(e))
    const run = client.start({ query: 'q', requestId: 'r1' })
    agent.resume()
    await run.result
    expect(customs(seen)).toEqual(expected)
  })
})
