import { describe, expect, it } from 'vitest'
import { createDraft, initialState, parseState, reduce, serializeState, type AgentEvent, type AgentwireState } from 'agentwire/protocol'

const fold = (events: AgentEvent[], state: AgentwireState = initialState()) => events.reduce(reduce, state)
const R = { requestId: 'r1' }

describe('reduce: streamed messages and tool calls', () => {
  it('a delta before its start (a client that subscribed mid-message) creates the message; the late start never resets its text', () => {
    const s = fold([
      { type: 'message.delta', payload: { ...R, messageId: 'm1', delta: 'lo' } },
      { type: 'message.started', payload: { ...R, messageId: 'm1', role: 'user' } },
      { type: 'message.delta', payload: { ...R, messageId: 'm1', delta: '!' } },
    ])
    expect(s.requests.r1?.messages).toEqual([{ kind: 'text', id: 'm1', role: 'user', text: 'lo!', status: 'open' }])
    expect(s.requests.r1?.status).toBe('running')
  })

  it('keeps entries in the order they started, and a finished request still records what was said', () => {
    const s = fold([
      { type: 'message.started', payload: { ...R, messageId: 'm1' } },
      { type: 'tool.call.started', payload: { ...R, toolCallId: 'c1', name: 'f', parentMessageId: 'm1' } },
      { type: 'request.completed', payload: { ...R, result: 1 } },
      { type: 'tool.call.args', payload: { ...R, toolCallId: 'c1', delta: '{}' } },
      { type: 'message.delta', payload: { ...R, messageId: 'm1', delta: 'ok' } },
      { type: 'tool.call.result', payload: { ...R, toolCallId: 'c1', result: { n: 1 } } },
      { type: 'message.ended', payload: { ...R, messageId: 'm1' } },
    ])
    expect(s.requests.r1?.messages).toEqual([
      { kind: 'text', id: 'm1', role: 'assistant', text: 'ok', status: 'done' },
      { kind: 'tool', id: 'c1', name: 'f', parentMessageId: 'm1', args: '{}', status: 'done', result: { n: 1 } },
    ])
    expect(s.requests.r1?.status).toBe('completed')
  })

  it('an event that changes nothing returns the same state; other requests keep their identity', () => {
    const s = fold([
      { type: 'message.ended', payload: { ...R, messageId: 'm1' } },
      { type: 'request.started', payload: { requestId: 'r2', query: 'q' } },
    ])
    expect(reduce(s, { type: 'message.ended', payload: { ...R, messageId: 'm1' } })).toBe(s)
    expect(reduce(s, { type: 'message.delta', payload: { ...R, messageId: 'm1', delta: '' } })).toBe(s)
    const next = reduce(s, { type: 'message.delta', payload: { ...R, messageId: 'm1', delta: 'x' } })
    expect(next.requests.r2).toBe(s.requests.r2)
  })

  it('a message and a tool call may share an id: each event reaches its own kind', () => {
    const s = fold([
      { type: 'message.delta', payload: { ...R, messageId: 'x', delta: 'hi' } },
      { type: 'tool.call.started', payload: { ...R, toolCallId: 'x', name: 'f' } },
      { type: 'message.started', payload: { ...R, messageId: 'x', agent: 'a' } },
    ])
    expect(s.requests.r1?.messages).toEqual([
      { kind: 'text', id: 'x', role: 'assistant', text: 'hi', status: 'open', agent: 'a' },
      { kind: 'tool', id: 'x', name: 'f', args: '', status: 'open' },
    ])
  })

  it('the shared state is replaced whole by request.state', () => {
    const s = fold([
      { type: 'request.state', payload: { ...R, state: { a: 1 } } },
      { type: 'request.state', payload: { ...R, state: { b: [2] } } },
    ])
    expect(s.requests.r1?.state).toEqual({ b: [2] })
  })

  it('a draft folds a batch of deltas to what reduce gives, and the snapshot survives the wire', () => {
    const events: AgentEvent[] = [{ type: 'message.started', payload: { ...R, messageId: 'm1' } }]
    for (let i = 0; i < 50; i++) events.push({ type: 'message.delta', payload: { ...R, messageId: 'm1', delta: String(i % 10) } })
    events.push({ type: 'tool.call.started', payload: { ...R, toolCallId: 'c1', name: 'f' } }, { type: 'request.state', payload: { ...R, state: { k: 'v' } } })
    const draft = createDraft()
    for (const e of events) draft.apply(e)
    const expected = fold(events)
    expect(draft.current()).toEqual(expected)
    const wire = parseState(JSON.parse(JSON.stringify(serializeState(expected))))
    expect(wire.ok && wire.state).toEqual(expected)
  })
})
