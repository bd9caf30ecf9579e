import { afterEach, describe, expect, it } from 'vitest'
import type { ResyncInfo } from 'agentwire'
import { createNodeClient, type NodeClient } from 'agentwire/node'
import { createGateway, type Gateway, type RetentionOptions } from 'agentwire/server'
import type { AgentEvent, MessageView } from 'agentwire/protocol'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy'
import { until } from './support/core'

/**
 * Streamed messages and tool calls through the real gateway: a client whose connection drops
 * in the middle of a message and in the middle of a tool call's arguments ends with the text
 * and the arguments exactly once, in order, whether it resumes inside the replay window (the
 * missed deltas are replayed) or beyond it (the snapshot carries the text so far, then the
 * live deltas follow).
 */

const R = 'r1'
const started = (messageId: string): AgentEvent => ({ type: 'message.started', payload: { requestId: R, messageId, role: 'assistant' } })
const delta = (messageId: string, d: string): AgentEvent => ({ type: 'message.delta', payload: { requestId: R, messageId, delta: d } })
const ended = (messageId: string): AgentEvent => ({ type: 'message.ended', payload: { requestId: R, messageId } })
const toolStarted = (toolCallId: string): AgentEvent => ({ type: 'tool.call.started', payload: { requestId: R, toolCallId, name: 'search', parentMessageId: 'm1' } })
const args = (toolCallId: string, d: string): AgentEvent => ({ type: 'tool.call.args', payload: { requestId: R, toolCallId, delta: d } })
const toolEnded = (toolCallId: string): AgentEvent => ({ type: 'tool.call.ended', payload: { requestId: R, toolCallId } })
const result = (toolCallId: string): AgentEvent => ({ type: 'tool.call.result', payload: { requestId: R, toolCallId, result: 'found 3', messageId: 'tm1' } })


interface Stack {
  gateway: Gateway
  proxy: FaultProxy
  client: NodeClient
  /** Every delta the client delivered, as `m:` or `t:` plus the piece, in order. */
  pieces: string[]
  seqs: number[]
  resyncs: ResyncInfo[]
  transcript(): readonly MessageView[]
}

const stacks: Stack[] = []
afterEach(async () => {
  for (const s of stacks.splice(0)) {
    s.client.close()
    await s.proxy.close()
    await s.gateway.close({ drainMs: 0 })
  }
})

async function startStack(retention?: RetentionOptions): Promise<Stack> {
  const gateway = createGateway({ port: 0, ...(retention ? { retention } : {}) })
  await gateway.ready
  const proxy = await startFaultProxy({ port: gateway.port })
  const client = createNodeClient({ url: proxy.url('/ws'), reconnect: { initialDelayMs: 10, maxDelayMs: 50 } })
  const stack: Stack = {
    gateway,
    proxy,
    client,
    pieces: [],
    seqs: [],
    resyncs: [],
    transcript: () => client.getSnapshot().requests[R]?.messages ?? [],
  }
  client.on('message.delta', (e) => stack.pieces.push(`m:${e.payload.delta}`))
  client.on('tool.call.args', (e) => stack.pieces.push(`t:${e.payload.delta}`))
  client.on('event', (_e, ctx) => {
    if (ctx.channel === `request:${R}` && ctx.seq !== undefined) stack.seqs.push(ctx.seq)
  })
  client.on('resync', (info) => stack.resyncs.push(info))
  client.subscribe(`request:${R}`)
  await client.ready()
  stacks.push(stack)
  return stack
}

async function publish(gateway: Gateway, ...events: AgentEvent[]): Promise<void> {
  for (const e of events) await gateway.publish(`request:${R}`, e)
}

/** Cuts the client's link (TCP reset) and keeps it down until `up()`. */
async function drop(stack: Stack): Promise<() => Promise<void>> {
  stack.proxy.setMode('refuse')
  stack.proxy.reset()
  await until(() => stack.client.state !== 'open', () => `client still ${stack.client.state}`)
  return async () => {
    stack.proxy.setMode('pass')
    await until(() => stack.client.state === 'open', () => `client ${stack.client.state}`)
  }
}

const textOf = (t: readonly MessageView[], id: string) => t.find((m) => m.id === id && m.kind === 'text') as Extract<MessageView, { kind: 'text' }> | undefined
const toolOf = (t: readonly MessageView[], id: string) => t.find((m) => m.id === id && m.kind === 'tool') as Extract<MessageView, { kind: 'tool' }> | undefined

describe('a connection dropped mid-message and mid-arguments', () => {
  it('inside the replay window: the missed deltas are replayed, text and arguments exactly once, in order', async () => {
    const s = await startStack()
    await publish(s.gateway, started('m1'), delta('m1', 'The '), delta('m1', 'answer '))
    await until(() => textOf(s.transcript(), 'm1')?.text === 'The answer ', () => JSON.stringify(s.transcript()))

    // Down mid-message: the message goes on and a tool call starts while the client is away.
    const up = await drop(s)
    await publish(s.gateway, delta('m1', 'is '), delta('m1', '42'), ended('m1'), toolStarted('c1'), args('c1', '{"q":'))
    await up()
    await until(() => toolOf(s.transcript(), 'c1')?.args === '{"q":', () => JSON.stringify(s.transcript()))

    // Down mid-arguments.
    const up2 = await drop(s)
    await publish(s.gateway, args('c1', '"life"'))
    await up2()
    await publish(s.gateway, args('c1', '}'), toolEnded('c1'), result('c1'))
    await until(() => toolOf(s.transcript(), 'c1')?.result !== undefined, () => JSON.stringify(s.transcript()))

    expect(s.resyncs).toEqual([])
    expect(s.pieces).toEqual(['m:The ', 'm:answer ', 'm:is ', 'm:42', 't:{"q":', 't:"life"', 't:}'])
    expect(s.seqs).toEqual(s.seqs.map((_, i) => i + 1))
    expect(s.transcript()).toEqual([
      { kind: 'text', id: 'm1', role: 'assistant', text: 'The answer is 42', status: 'done' },
      { kind: 'tool', id: 'c1', name: 'search', parentMessageId: 'm1', args: '{"q":"life"}', status: 'done', result: 'found 3', resultMessageId: 'tm1' },
    ])
    // The store equals what the gateway's snapshot of the channel says.
    expect((await s.gateway.broker.snapshot(`request:${R}`)).state.requests[R]?.messages).toEqual(s.transcript())
  })

  it('beyond the replay window: the snapshot carries the text and arguments so far once, then the live deltas follow', async () => {
    const s = await startStack({ size: 2 })
    await publish(s.gateway, started('m1'), delta('m1', 'Hel'))
    await until(() => textOf(s.transcript(), 'm1')?.text === 'Hel', () => JSON.stringify(s.transcript()))

    const up = await drop(s)
    // More than the window while away: the client must resync from a snapshot.
    await publish(s.gateway, delta('m1', 'lo'), delta('m1', ', '), delta('m1', 'wor'))
    await up()
    await until(() => s.resyncs.length > 0 && textOf(s.transcript(), 'm1')?.text === 'Hello, wor', () => JSON.stringify(s.transcript()))
    await publish(s.gateway, delta('m1', 'ld'), ended('m1'), toolStarted('c1'), args('c1', '{"n":'))
    await until(() => toolOf(s.transcript(), 'c1')?.args === '{"n":', () => JSON.stringify(s.transcript()))

    const up2 = await drop(s)
    await publish(s.gateway, args('c1', '1'), args('c1', '2'), args('c1', '3'))
    await up2()
    await until(() => s.resyncs.length > 1 && toolOf(s.transcript(), 'c1')?.args === '{"n":123', () => JSON.stringify(s.transcript()))
    await publish(s.gateway, args('c1', '}'), toolEnded('c1'))
    await until(() => toolOf(s.transcript(), 'c1')?.status === 'done', () => JSON.stringify(s.transcript()))

    expect(s.transcript()).toEqual([
      { kind: 'text', id: 'm1', role: 'assistant', text: 'Hello, world', status: 'done' },
      { kind: 'tool', id: 'c1', name: 'search', parentMessageId: 'm1', args: '{"n":123}', status: 'done' },
    ])
    // Live deltas delivered: only those published while connected; the rest came in the snapshots.
    expect(s.pieces).toEqual(['m:Hel', 'm:ld', 't:{"n":', 't:}'])
    expect(new Set(s.seqs).size).toBe(s.seqs.length)
    expect(s.seqs).toEqual([...s.seqs].sort((a, b) => a - b))
  })
})
