import { afterEach, describe, expect, it } from 'vitest'
import { HttpAgent, type BaseEvent } from '@ag-ui/client'
import { EventSchemas } from '@ag-ui/core/schemas'
import { readSse } from 'agentwire/agui'
import { createGateway, realClock, type Gateway, type RetentionOptions, type ServerClock } from 'agentwire/server'
import type { AgentEvent } from 'agentwire/protocol'
import { startTestAgent } from './agent-server'
import { until } from '../server/support/core'

/**
 * The gateway's AG-UI endpoint, consumed by `@ag-ui/client` (its HttpAgent runs every stream
 * through its event verifier, so a prelude or a tail it would refuse fails the run): a whole run
 * watched live, and a watcher that reattaches mid-message with `Last-Event-ID`, inside the replay
 * window and beyond it, ending with the text and arguments exactly once.
 */

const closers: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})


async function gatewayWith(retention?: RetentionOptions): Promise<{ gateway: Gateway; base: string; publish: (...events: AgentEvent[]) => Promise<void> }> {
  const gateway = createGateway({ port: 0, aguiEndpoint: true, ...(retention ? { retention } : {}) })
  await gateway.ready
  closers.push(() => gateway.close({ drainMs: 0 }))
  return {
    gateway,
    base: `http://127.0.0.1:${gateway.port}/agui`,
    publish: async (...events) => {
      for (const e of events) await gateway.publish(`request:${(e.payload as { requestId: string }).requestId}`, e)
    },
  }
}

const R = 'r1'
const ev = {
  started: { type: 'request.started', payload: { requestId: R, query: 'What is the answer?' } },
  m1: { type: 'message.started', payload: { requestId: R, messageId: 'm1', role: 'assistant' } },
  d: (delta: string) => ({ type: 'message.delta', payload: { requestId: R, messageId: 'm1', delta } }),
  m1end: { type: 'message.ended', payload: { requestId: R, messageId: 'm1' } },
  c1: { type: 'tool.call.started', payload: { requestId: R, toolCallId: 'c1', name: 'lookup', parentMessageId: 'm1' } },
  a: (delta: string) => ({ type: 'tool.call.args', payload: { requestId: R, toolCallId: 'c1', delta } }),
  c1end: { type: 'tool.call.ended', payload: { requestId: R, toolCallId: 'c1' } },
  result: { type: 'tool.call.result', payload: { requestId: R, toolCallId: 'c1', result: '42', messageId: 't1' } },
  state: { type: 'request.state', payload: { requestId: R, state: { count: 1 } } },
  step: (status: 'running' | 'completed') => ({ type: 'step.progress', payload: { requestId: R, agent: 'a', step: 1, stepId: 'answer', status } }),
  done: { type: 'request.completed', payload: { requestId: R, result: { answer: 42 } } },
} satisfies Record<string, AgentEvent | ((s: never) => AgentEvent)>

/** HttpAgent watching request R through the endpoint, recording every event it accepted. */
function watcher(base: string, headers: Record<string, string> = {}) {
  const agent = new HttpAgent({ url: base, headers })
  const events: BaseEvent[] = []
  // Cloned: HttpAgent goes on changing the objects a snapshot gave it.
  const run = agent.runAgent({ runId: R }, { onEvent: ({ event }) => void events.push(structuredClone(event)) })
  return { agent, events, run }
}

const assistantText = (agent: HttpAgent) => agent.messages.find((m) => m.id === 'm1')?.content

describe('the gateway as an AG-UI endpoint', () => {
  it('@ag-ui/client watches a whole run: verifier satisfied, messages, tool call, result and state assembled', async () => {
    const { base, publish } = await gatewayWith()
    await publish(ev.started, ev.step('running'), ev.m1, ev.d('The answer '))
    const w = watcher(base)
    await until(() => assistantText(w.agent) === 'The answer ', () => JSON.stringify(w.agent.messages))
    await publish(ev.d('is 42.'), ev.m1end, ev.c1, ev.a('{"q":'), ev.a('"life"}'), ev.c1end, ev.state, ev.result, ev.step('completed'), ev.done)
    await expect(w.run).resolves.toMatchObject({ result: { answer: 42 } })

    // The step running at attach is re-opened, so its STEP_FINISHED comes through.
    expect(w.events.map((e) => e.type).slice(0, 6)).toEqual(['RUN_STARTED', 'MESSAGES_SNAPSHOT', 'STEP_STARTED', 'TEXT_MESSAGE_START', 'TEXT_MESSAGE_CONTENT', 'TEXT_MESSAGE_END'])
    expect(w.events.filter((e) => (e.type as string) === 'STEP_FINISHED')).toEqual([{ type: 'STEP_FINISHED', stepName: 'answer' }])
    for (const e of w.events) expect(EventSchemas.safeParse(e).success, JSON.stringify(e)).toBe(true)
    expect(w.agent.messages).toMatchObject([
      { id: 'm1', role: 'assistant', content: 'The answer is 42.', toolCalls: [{ id: 'c1', function: { name: 'lookup', arguments: '{"q":"life"}' } }] },
      { id: 't1', role: 'tool', toolCallId: 'c1', content: '42' },
    ])
    expect(w.agent.state).toEqual({ count: 1 })
  })

  for (const [label, retention, expectFirstContent] of [
    ['inside the replay window: the prelude is the run as it stood at Last-Event-ID, then the tail from exactly there', undefined, 'is '],
    ['beyond the window: the prelude carries the text so far, then the live tail', { size: 2 }, 'tail'],
  ] as const) {
    it(`a watcher reattaching mid-message with Last-Event-ID, ${label}`, async () => {
      const { base, publish } = await gatewayWith(retention)
      await publish(ev.started, ev.m1, ev.d('The answer '))
      // First attach: an EventSource-style GET, cut after the first piece of text.
      const abort = new AbortController()
      const response = await fetch(`${base}/${R}`, { signal: abort.signal })
      let lastId = ''
      const seen: string[] = []
      for await (const frame of readSse(response.body!)) {
        lastId = frame.id ?? lastId
        seen.push(JSON.parse(frame.data).type)
        if (seen.includes('TEXT_MESSAGE_START')) break
      }
      abort.abort()
      expect(lastId).toMatch(/:3$/)
      expect(seen).toEqual(['RUN_STARTED', 'MESSAGES_SNAPSHOT', 'TEXT_MESSAGE_START'])

      // Away: the message goes on and a tool call starts.
      await publish(ev.d('is '), ev.d('42.'), ev.m1end, ev.c1, ev.a('{"q":'))
      // Reattach, as a frontend holding the text it had: "The answer ".
      const w = watcher(base, { 'Last-Event-ID': lastId })
      w.agent.setMessages([{ id: 'm1', role: 'assistant', content: 'The answer ' }])
      await until(() => w.agent.messages.some((m) => m.id === 'm1' && (m as { toolCalls?: Array<{ function: { arguments: string } }> }).toolCalls?.[0]?.function.arguments === '{"q":'), () => JSON.stringify(w.agent.messages))
      await publish(ev.a('"life"}'), ev.c1end, ev.result, { ...ev.d('tail'), payload: { ...ev.d('tail').payload, messageId: 'm2' } }, ev.done)
      await w.run

      const types = w.events.map((e) => e.type)
      expect(types.slice(0, 2)).toEqual(['RUN_STARTED', 'MESSAGES_SNAPSHOT'])
      const snapshot = w.events[1] as unknown as { messages: Array<{ id: string; content?: string }> }
      expect(snapshot.messages.filter((m) => m.id === 'm1')).toEqual([expect.objectContaining({ content: expectFirstContent === 'is ' ? 'The answer ' : 'The answer is 42.' })])
      const firstContent = w.events.find((e) => e.type === 'TEXT_MESSAGE_CONTENT') as { delta?: string } | undefined
      if (expectFirstContent === 'is ') expect(firstContent?.delta).toBe('is ')
      else expect(firstContent?.delta).toBe('tail') // "is 42." came inside the snapshot
      expect(w.agent.messages).toMatchObject([
        { id: 'm1', role: 'assistant', content: 'The answer is 42.', toolCalls: [{ id: 'c1', function: { name: 'lookup', arguments: '{"q":"life"}' } }] },
        { id: 't1', role: 'tool', toolCallId: 'c1', content: '42' },
        { id: 'm2', role: 'assistant', content: 'tail' },
      ])
      for (const e of w.events) expect(EventSchemas.safeParse(e).success, JSON.stringify(e)).toBe(true)
    })
  }

  for (const [label, away] of [
    ['the step finishes live after the reattach', false],
    ['the step finished while away (replayed from Last-Event-ID)', true],
  ] as const) {
    it(`a watcher reattaching mid-step with Last-Event-ID gets the running step re-opened and its STEP_FINISHED: ${label}`, async () => {
      const { base, publish } = await gatewayWith()
      await publish(ev.started, ev.step('running'), ev.m1, ev.d('The answer '))
      const abort = new AbortController()
      const response = await fetch(`${base}/${R}`, { signal: abort.signal })
      let lastId = ''
      const seen: string[] = []
      for await (const frame of readSse(response.body!)) {
        lastId = frame.id ?? lastId
        seen.push(JSON.parse(frame.data).type)
        if (seen.includes('TEXT_MESSAGE_START')) break
      }
      abort.abort()
      expect(lastId).toMatch(/:4$/)
      expect(seen).toEqual(['RUN_STARTED', 'MESSAGES_SNAPSHOT', 'STEP_STARTED', 'TEXT_MESSAGE_START'])

      await publish(ev.d('is 42.'), ev.m1end, ...(away ? [ev.step('completed')] : []))
      const w = watcher(base, { 'Last-Event-ID': lastId })
      w.agent.setMessages([{ id: 'm1', role: 'assistant', content: 'The answer ' }])
      await until(() => assistantText(w.agent) === 'The answer is 42.', () => JSON.stringify(w.agent.messages))
      await publish(...(away ? [] : [ev.step('completed')]), ev.done)
      await expect(w.run).resolves.toMatchObject({ result: { answer: 42 } })

      const types = w.events.map((e) => e.type as string)
      expect(types.slice(0, 3)).toEqual(['RUN_STARTED', 'MESSAGES_SNAPSHOT', 'STEP_STARTED'])
      expect(w.events.filter((e) => e.type === 'STEP_STARTED' || e.type === 'STEP_FINISHED')).toEqual([
        { type: 'STEP_STARTED', stepName: 'answer' },
        { type: 'STEP_FINISHED', stepName: 'answer' },
      ])
      expect(types.indexOf('STEP_FINISHED')).toBeLessThan(types.indexOf('RUN_FINISHED'))
      for (const e of w.events) expect(EventSchemas.safeParse(e).success, JSON.stringify(e)).toBe(true)
    })
  }

  it('an idle stream gets a keepalive comment after keepAliveMs (an injected clock), and the stream goes on after it', async () => {
    const timers: Array<{ fn: () => void; ms: number }> = []
    const clock: ServerClock = { ...realClock, setTimeout: (fn, ms) => (timers.push({ fn, ms }), timers.length), clearTimeout: (h) => void (typeof h === 'number' && timers[h - 1] && (timers[h - 1]!.fn = () => undefined)) }
    const gateway = createGateway({ port: 0, clock, aguiEndpoint: { keepAliveMs: 1234 } })
    await gateway.ready
    closers.push(() => gateway.close({ drainMs: 0 }))
    await gateway.publish(`request:${R}`, ev.started)
    const abort = new AbortController()
    closers.push(() => abort.abort())
    const response = await fetch(`http://127.0.0.1:${gateway.port}/agui/${R}`, { signal: abort.signal })
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    const readUntil = async (what: string) => {
      while (!text.includes(what)) text += decoder.decode((await reader.read()).value)
    }
    await readUntil('MESSAGES_SNAPSHOT')
    const keepAlive = timers.filter((t) => t.ms === 1234)
    expect(keepAlive).toHaveLength(1)
    keepAlive[0]!.fn()
    await readUntil(': keepalive')
    await gateway.publish(`request:${R}`, ev.m1)
    await readUntil('TEXT_MESSAGE_START')
    expect(text.indexOf(': keepalive')).toBeLessThan(text.indexOf('TEXT_MESSAGE_START'))
  })

  it('in front of an AG-UI agent, a frontend POST for a new run starts it: @ag-ui/client runs the agent through the gateway', async () => {
    const agent = await startTestAgent()
    closers.push(() => agent.close())
    const gateway = createGateway({ port: 0, agui: agent.url, aguiEndpoint: true })
    await gateway.ready
    closers.push(() => gateway.close({ drainMs: 0 }))
    const frontend = new HttpAgent({ url: `http://127.0.0.1:${gateway.port}/agui` })
    frontend.addMessage({ id: 'u1', role: 'user', content: 'What is the answer?' })
    const run = frontend.runAgent({ runId: 'p1' })
    await agent.paused()
    agent.resume()
    await agent.paused()
    agent.resume()
    await expect(run).resolves.toMatchObject({ result: { answer: 42 } })
    expect(agent.inputs[0]).toMatchObject({ runId: 'p1', messages: [{ id: 'u1', role: 'user', content: 'What is the answer?' }] })
    expect(frontend.messages).toMatchObject([
      { id: 'u1', role: 'user', content: 'What is the answer?' },
      { id: 'm1', role: 'assistant', content: 'The answer is forty-two.', toolCalls: [{ id: 'c1', function: { name: 'lookup', arguments: '{"q":"life"}' } }] },
      { id: 't1', role: 'tool', toolCallId: 'c1', content: '42' },
    ])
    expect(frontend.state).toEqual({ count: 1, items: ['life'] })
    // The run is the gateway's request, with positions: an agentwire client sees the same.
    expect((await gateway.broker.snapshot('request:p1')).state.requests.p1).toMatchObject({ status: 'completed', query: 'What is the answer?' })
  })
})

