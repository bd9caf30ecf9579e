import { describe, expect, it } from 'vitest'
import { createAguiMapper, readSse } from 'agentwire/agui'
import { initialState, reduce, type AgentEvent } from 'agentwire/protocol'

const fold = (events: AgentEvent[]) => events.reduce(reduce, initialState())

describe('AG-UI events → canonical events', () => {
  it('chunks open, continue and (at the run end) close messages and tool calls', () => {
    const m = createAguiMapper('r1')
    const events = [
      { type: 'TEXT_MESSAGE_CHUNK', messageId: 'm1', role: 'assistant', delta: 'Hel' },
      { type: 'TEXT_MESSAGE_CHUNK', delta: 'lo' },
      { type: 'TOOL_CALL_CHUNK', toolCallId: 'c1', toolCallName: 'f', parentMessageId: 'm1', delta: '{"a"' },
      { type: 'TOOL_CALL_CHUNK', delta: ':1}' },
      { type: 'RUN_FINISHED', threadId: 't', runId: 'r1' },
    ].flatMap((e) => m.map(e))
    expect(fold(events).requests.r1?.messages).toEqual([
      { kind: 'text', id: 'm1', role: 'assistant', text: 'Hello', status: 'done' },
      { kind: 'tool', id: 'c1', name: 'f', parentMessageId: 'm1', args: '{"a":1}', status: 'done' },
    ])
    expect(fold(events).requests.r1?.status).toBe('completed')
  })

  it('MESSAGES_SNAPSHOT adds only what the run has not said yet', () => {
    const m = createAguiMapper('r1')
    const said = [
      { type: 'TEXT_MESSAGE_START', messageId: 'm1', role: 'assistant' },
      { type: 'TEXT_MESSAGE_CONTENT', messageId: 'm1', delta: 'Hi' },
    ].flatMap((e) => m.map(e))
    const fromSnapshot = m.map({
      type: 'MESSAGES_SNAPSHOT',
      messages: [
        { id: 'u1', role: 'user', content: 'hello?' },
        { id: 'm1', role: 'assistant', content: 'Hi there', toolCalls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { id: 't1', role: 'tool', toolCallId: 'c1', content: 'ok' },
      ],
    })
    const state = fold([...said, ...fromSnapshot])
    expect(state.requests.r1?.messages).toEqual([
      { kind: 'text', id: 'm1', role: 'assistant', text: 'Hi there', status: 'open' },
      { kind: 'text', id: 'u1', role: 'user', text: 'hello?', status: 'done' },
      { kind: 'tool', id: 'c1', name: 'f', parentMessageId: 'm1', args: '{}', status: 'done', result: 'ok', resultMessageId: 't1' },
    ])
  })

  it('applies STATE_DELTA as JSON Patch; a patch that does not apply is reported and changes nothing', () => {
    const errors: string[] = []
    const m = createAguiMapper('r1', { onError: (e) => errors.push(e) })
    const events = [
      { type: 'STATE_SNAPSHOT', snapshot: { todo: ['a'] } },
      { type: 'STATE_DELTA', delta: [{ op: 'add', path: '/todo/-', value: 'b' }] },
      { type: 'STATE_DELTA', delta: [{ op: 'replace', path: '/missing/deep', value: 1 }] },
    ].flatMap((e) => m.map(e))
    expect(fold(events).requests.r1?.state).toEqual({ todo: ['a', 'b'] })
    expect(errors).toHaveLength(1)
  })

  it('an event with no canonical event of its own is never nothing: request.custom with the event as it came, counted by type', () => {
    const m = createAguiMapper('r1')
    const input = [
      { type: 'CUSTOM', name: 'x', value: 1 },
      { type: 'RAW', event: { a: 1 }, source: 'llm' },
      { type: 'REASONING_MESSAGE_CONTENT', messageId: 'th1', delta: 'hmm' },
      { type: 'ACTIVITY_SNAPSHOT', messageId: 'a1', activityType: 'plan', content: {} },
      { type: 'NOT_AG_UI' },
      { type: 'TEXT_MESSAGE_CONTENT', delta: 'no message id' },
      { noType: true },
      'not even an object',
    ]
    expect(input.flatMap((e) => m.map(e))).toEqual([
      { type: 'request.custom', payload: { requestId: 'r1', name: 'x', value: 1, raw: input[0] } },
      { type: 'request.custom', payload: { requestId: 'r1', name: 'RAW', value: { a: 1 }, raw: input[1] } },
      { type: 'request.custom', payload: { requestId: 'r1', name: 'REASONING_MESSAGE_CONTENT', raw: input[2] } },
      { type: 'request.custom', payload: { requestId: 'r1', name: 'ACTIVITY_SNAPSHOT', raw: input[3] } },
      { type: 'request.custom', payload: { requestId: 'r1', name: 'NOT_AG_UI', raw: input[4] } },
      { type: 'request.custom', payload: { requestId: 'r1', name: 'TEXT_MESSAGE_CONTENT', raw: input[5] } },
      { type: 'request.custom', payload: { requestId: 'r1', name: 'unknown', raw: input[6] } },
      { type: 'request.custom', payload: { requestId: 'r1', name: 'unknown', raw: input[7] } },
    ])
    expect([...m.foreign]).toEqual([
      ['CUSTOM', 1],
      ['RAW', 1],
      ['REASONING_MESSAGE_CONTENT', 1],
      ['ACTIVITY_SNAPSHOT', 1],
      ['NOT_AG_UI', 1],
      ['TEXT_MESSAGE_CONTENT', 1],
      ['unknown', 2],
    ])
  })
})

describe('readSse', () => {
  it('reads frames split anywhere, with CRLF, comments, ids and multi-line data', async () => {
    const text = ': hi\r\nid: 1\r\ndata: {"a":\r\ndata: 1}\r\n\r\ndata: x\n\nevent: e\ndata: y\n\ndata: cut'
    const bytes = new TextEncoder().encode(text)
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3))
        c.close()
      },
    })
    const frames = []
    for await (const f of readSse(body)) frames.push(f)
    expect(frames).toEqual([{ id: '1', data: '{"a":\n1}' }, { id: '1', data: 'x' }, { id: '1', event: 'e', data: 'y' }])
  })
})
