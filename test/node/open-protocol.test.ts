import * as z from 'zod'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defineCommands, defineEvents } from 'agentwire/protocol'
import { createNodeClient, type ChannelEvent, type NodeClient } from 'agentwire/node'
import { createMockGateway, type MockGateway } from 'agentwire/testing'
import { agentStatus } from '../support/adapters'

const deployFinished = z.object({ service: z.string(), ok: z.boolean() })
// The gateway knows one more type than the client: that one reaches the client untyped.
const gatewayEvents = defineEvents({ 'deploy.finished': deployFinished, 'deploy.started': z.object({ service: z.string() }) })
const events = defineEvents({ 'deploy.finished': deployFinished }).reducer('deploys', {
  initial: { total: 0 },
  reduce: (state, event) => (event.type === 'deploy.finished' ? { total: state.total + 1 } : state),
})
const commands = defineCommands({ pause: { payload: z.object({ agent: z.string() }), result: z.object({ paused: z.string() }) } })

let gateway: MockGateway<typeof gatewayEvents>
let client: NodeClient<typeof events, typeof commands>

beforeEach(async () => {
  gateway = createMockGateway({ events: gatewayEvents, commands, onCommand: (c) => ({ paused: (c.payload as { agent: string }).agent }) })
  client = createNodeClient({ url: gateway.url, WebSocket: gateway.WebSocket, events, commands })
  await client.ready()
})
afterEach(() => {
  client.close()
  gateway.close()
})

async function take<E>(stream: AsyncIterator<ChannelEvent<E>>, n: number): Promise<ChannelEvent<E>[]> {
  const out: ChannelEvent<E>[] = []
  while (out.length < n) {
    const next = await stream.next()
    if (next.done) break
    out.push(next.value)
  }
  return out
}

/** What a script would print of each event: the types narrow the payload. */
function describeEvent({ event, channel, seq }: ChannelEvent<typeof events>): string {
  if ('untyped' in event) return `${channel}#${seq} untyped ${event.type} ${JSON.stringify(event.payload)}`
  if (event.type === 'deploy.finished') return `${channel}#${seq} ${event.payload.service} ${event.payload.ok ? 'ok' : 'failed'}`
  if (event.type === 'agent.status') return `${channel}#${seq} agent ${event.payload.name} ${event.payload.status}`
  return `${channel}#${seq} ${event.type}`
}

describe('createNodeClient with the application’s definitions', () => {
  it('streams built-in, user and untyped events in order, typed by the client’s events', async () => {
    const stream = client.events('deploys:*')
    await gateway.waitFor((f) => f.type === 'subscribe' && f.channels.some((c) => c.channel === 'deploys:*'))
    gateway.publish('deploys:prod', { type: 'deploy.started', payload: { service: 'api' } })
    gateway.publish('deploys:prod', { type: 'deploy.finished', payload: { service: 'api', ok: false } })
    gateway.publish('deploys:eu', agentStatus('deployer', 'busy'))
    gateway.publish('ops', { type: 'deploy.finished', payload: { service: 'db', ok: true } })
    gateway.publish('deploys:eu', { type: 'deploy.finished', payload: { service: 'web', ok: true } })

    const got = await take(stream, 4)
    expect(got.map(describeEvent)).toEqual([
      'deploys:prod#1 untyped agentwire:deploy.started {"service":"api"}',
      'deploys:prod#2 api failed',
      'deploys:eu#1 agent deployer busy',
      'deploys:eu#2 web ok',
    ])
    expect(got[0]!.event).toEqual({ type: 'agentwire:deploy.started', payload: { service: 'api' }, untyped: true })
    // The client folded its reducer on each channel; the untyped event is in no reducer.
    expect(client.reduced('deploys', 'deploys:prod')).toEqual({ total: 1 })
    expect(client.reduced('deploys', 'deploys:eu')).toEqual({ total: 1 })
    await stream.return!()
  })

  it('sends a typed command and resolves with the gateway’s result', async () => {
    const reply = await client.command('pause', { agent: 'planner' })
    expect(reply.paused).toBe('planner')
    expect(gateway.received.filter((f) => f.type === 'command')).toMatchObject([{ name: 'pause', payload: { agent: 'planner' } }])
  })
})
