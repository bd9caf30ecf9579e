import { describe, expect, it } from 'vitest'
import {
  AgentwireError,
  decodeRoutingRedis,
  decodeWebguiRedis,
  dialects,
  forgeEndpointsFor,
  framesOf,
  webguiChannelToCanonical,
  canonicalToWebguiChannel,
  createProgressCodec,
  createWebguiCodec,
  type DecodeResult,
} from 'agentwire/protocol'

/** The one message a frame decodes to, with its channel; an event's `raw` (the frame as it came) is checked present and left out. */
function single(r: DecodeResult) {
  if (!r.ok) throw r.error
  expect(r.messages).toHaveLength(1)
  const m = r.messages[0]!
  if (m.type !== 'event') return m
  const { raw, ...event } = m.event as typeof m.event & { raw?: unknown }
  expect(raw).toBeDefined()
  return { ...m, event }
}
const ev = (channel: string, type: string, payload: Record<string, unknown>) => ({ type: 'event', channel, event: { type, payload } })

describe('seed routing', () => {
  const decision = { type: 'routing_decision', payload: { taskId: 'task-42', agent: { name: 'planner', strengths: ['plans'], cost: 0.2, latency: 1.5 }, timestamp: 1234567890 } }
  const status = { type: 'agent_status', payload: { name: 'planner', status: 'busy', load: 0.7 } }

  it('routing: routing_decision example from the seed', () => {
    expect(single(dialects.routing.decode(JSON.stringify(decision)))).toEqual(ev('task:task-42', 'routing.decision', decision.payload))
  })
  it('routing: agent_status example from the seed', () => {
    expect(single(dialects.routing.decode(JSON.stringify(status)))).toEqual(ev('agent:planner', 'agent.status', status.payload))
  })
  it('routing: each status the seed allows', () => {
    for (const s of ['available', 'busy', 'offline']) expect(dialects.routing.decode(JSON.stringify({ type: 'agent_status', payload: { name: 'a', status: s, load: 0 } })).ok).toBe(true)
    // A word the seed does not list passes through as it came (the old codec refused the frame, and the store kept a stale status).
    expect(single(dialects.routing.decode(JSON.stringify({ type: 'agent_status', payload: { name: 'a', status: 'paused' } })))).toMatchObject({ event: { payload: { status: 'paused' } } })
  })
  it('routing: the Redis channels task:routing and agent:status, as envelope or bare payload', () => {
    expect(single(decodeRoutingRedis('task:routing', JSON.stringify(decision)))).toEqual(ev('task:task-42', 'routing.decision', decision.payload))
    expect(single(decodeRoutingRedis('agent:status', JSON.stringify(status.payload)))).toEqual(ev('agent:planner', 'agent.status', status.payload))
    expect(decodeRoutingRedis('other', '{}')).toEqual({ ok: true, messages: [], unknown: 'redis:other' })
  })
  it('routing: accepts no command, plainly', () => {
    const r = dialects.routing.encode({ type: 'cancel', id: '1', requestId: 'r' })
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.error).toBeInstanceOf(AgentwireError)
      expect(r.error.code).toBe('unsupported')
      expect(r.error.message).toBe('the routing backend has no "cancel" command')
    }
    expect(dialects.routing.capabilities).toMatchObject({ serverSubscribe: false, positions: false, commands: false })
  })
})

describe('seed webgui', () => {
  const example = { type: 'session_status_changed', timestamp: '2024-01-01T12:00:00Z', session_id: 'sess_123', data: { status: 'testing', progress: 45, message: 'Executing UI tests...' } }

  it('webgui: session_status_changed example from the seed', () => {
    expect(single(dialects.webgui.decode(JSON.stringify(example)))).toEqual(
      ev('session:sess_123', 'session.status', { sessionId: 'sess_123', status: 'testing', progress: 45, message: 'Executing UI tests...', timestamp: '2024-01-01T12:00:00Z' }),
    )
  })
  it('webgui: the other kinds the ADR implies', () => {
    const f = (type: string, data: Record<string, unknown>, session_id?: string) => single(dialects.webgui.decode(JSON.stringify({ type, timestamp: 't', session_id, data })))
    expect(f('agent_status_changed', { agent: 'planner', status: 'idle' })).toMatchObject({ channel: 'agent:planner', event: { type: 'agent.status', payload: { name: 'planner', status: 'available' } } })
    // Session updates stay on the session's channel, where a webgui subscription receives them (task:{id} is no webgui channel).
    expect(f('task_progress', { task_id: 't1', progress: 30 }, 's1')).toMatchObject({ channel: 'session:s1', event: { type: 'task.progress', payload: { taskId: 't1', progress: 30 } } })
    expect(f('user_joined', { user_id: 7, username: 'carol' }, 's1')).toMatchObject({ channel: 'session:s1', event: { type: 'session.user.joined', payload: { sessionId: 's1', userId: '7', name: 'carol' } } })
    expect(f('notification', { level: 'warning', message: 'disk' }, 's1')).toMatchObject({ channel: 'session:s1', event: { type: 'system.notification', payload: { level: 'warning', message: 'disk', sessionId: 's1' } } })
    expect(f('notification', { message: 'hi', user_id: 'u7' })).toMatchObject({ channel: 'user:u7', event: { payload: { level: 'info', userId: 'u7' } } })
    expect(f('notification', { message: 'all' })).toMatchObject({ channel: 'global' })
    expect(f('test_result', { test_name: 'login', passed: false }, 's1')).toMatchObject({ channel: 'session:s1', event: { type: 'system.notification', payload: { level: 'error', title: 'login', message: 'login failed' } } })
    // Metrics come on webgui:global (there is no metrics channel on this backend to subscribe to).
    expect(f('metrics_update', { values: { cpu: 0.5 } })).toMatchObject({ channel: 'global', event: { type: 'metrics.snapshot', payload: { scope: 'system', values: { cpu: 0.5 } } } })
    expect(single(dialects.webgui.decode('{"type":"error","data":{"message":"denied","code":"forbidden"}}'))).toEqual({ type: 'error', error: { code: 'forbidden', message: 'denied', raw: { type: 'error', data: { message: 'denied', code: 'forbidden' } } } })
    expect(single(dialects.webgui.decode('{"type":"pong"}'))).toEqual({ type: 'pong' })
  })
  it('webgui: channel families map both ways', () => {
    expect(['webgui:session:1', 'webgui:agent:planner', 'webgui:global', 'webgui:user:9', 'webgui:other:1', 'task:routing'].map(webguiChannelToCanonical)).toEqual(['session:1', 'agent:planner', 'global', 'user:9', undefined, undefined])
    expect(['session:1', 'agent:*', 'global', 'task:1'].map(canonicalToWebguiChannel)).toEqual(['webgui:session:1', 'webgui:agent:*', 'webgui:global', undefined])
  })
  it('webgui: a Redis message takes its channel from the Redis channel', () => {
    const text = JSON.stringify({ type: 'notification', timestamp: 't', session_id: 's1', data: { message: 'for you' } })
    expect(single(decodeWebguiRedis('webgui:user:7', text))).toMatchObject({ channel: 'user:7' })
  })
  it('webgui: subscribe becomes one frame per channel; ping and pong are text', () => {
    const r = createWebguiCodec().encode({ type: 'subscribe', id: '1', channels: [{ channel: 'session:123' }, { channel: 'global' }] })
    expect(r.ok && framesOf(r)).toEqual(['{"type":"subscribe","channels":["webgui:session:123","webgui:global"]}'])
    const u = createWebguiCodec().encode({ type: 'unsubscribe', id: '2', channels: ['agent:planner'] })
    expect(u.ok && framesOf(u)).toEqual(['{"type":"unsubscribe","channel":"webgui:agent:planner","channels":["webgui:agent:planner"]}'])
    expect(dialects.webgui.encode({ type: 'ping' })).toEqual({ ok: true, frame: '{"type":"ping"}' })
    const bad = dialects.webgui.encode({ type: 'subscribe', id: '3', channels: [{ channel: 'task:1' }] })
    expect(!bad.ok && bad.error.code).toBe('unsupported')
  })
})

describe('seed rooms', () => {
  const ts = '2024-01-01T00:00:00Z'
  const cases: Array<[string, unknown, string, string, Record<string, unknown>]> = [
    ['agent:created', { agentId: 'a1', agent: { name: 'Planner' }, userId: 'u1', timestamp: ts }, 'agent:a1', 'agent.created', { agentId: 'a1', agent: { name: 'Planner' }, userId: 'u1', timestamp: ts }],
    ['agent:updated', { agentId: 'a1', agent: { name: 'P2' }, userId: 'u1', timestamp: ts }, 'agent:a1', 'agent.updated', { agentId: 'a1', agent: { name: 'P2' }, userId: 'u1', timestamp: ts }],
    ['agent:deleted', { agentId: 'a1', userId: 'u1', timestamp: ts }, 'agent:a1', 'agent.deleted', { agentId: 'a1', userId: 'u1', timestamp: ts }],
    ['agent:statusChanged', { agentId: 'a1', agent: { status: 'Running' }, userId: 'u1', timestamp: ts }, 'agent:a1', 'agent.status', { name: 'a1', status: 'busy', agent: { status: 'Running' }, userId: 'u1', timestamp: ts }],
    ['chat:created', { chatId: 'c1', chat: { title: 'x' }, userId: 'u1', timestamp: ts }, 'chat:c1', 'chat.created', { chatId: 'c1', chat: { title: 'x' }, userId: 'u1', timestamp: ts }],
    ['chat:updated', { chatId: 'c1', chat: { title: 'y' }, userId: 'u1', timestamp: ts }, 'chat:c1', 'chat.updated', { chatId: 'c1', chat: { title: 'y' }, userId: 'u1', timestamp: ts }],
    ['chat:deleted', { chatId: 'c1', userId: 'u1', timestamp: ts }, 'chat:c1', 'chat.deleted', { chatId: 'c1', userId: 'u1', timestamp: ts }],
    ['chat:messageCreated', { chatId: 'c1', messageId: 'm1', userId: 'u1', timestamp: ts }, 'chat:c1', 'chat.message.created', { chatId: 'c1', messageId: 'm1', userId: 'u1', timestamp: ts }],
    ['chat:participantJoined', { chatId: 'c1', participantId: 'p1', userId: 'u1', timestamp: ts }, 'chat:c1', 'chat.participant.joined', { chatId: 'c1', participantId: 'p1', userId: 'u1', timestamp: ts }],
    ['chat:participantLeft', { chatId: 'c1', participantId: 'p1', userId: 'u1', timestamp: ts }, 'chat:c1', 'chat.participant.left', { chatId: 'c1', participantId: 'p1', userId: 'u1', timestamp: ts }],
    ['collection:created', { collectionId: 'k1', metadata: { size: 1 }, userId: 'u1', timestamp: ts }, 'collection:k1', 'collection.created', { collectionId: 'k1', metadata: { size: 1 }, userId: 'u1', timestamp: ts }],
    ['collection:updated', { collectionId: 'k1', metadata: { size: 2 }, userId: 'u1', timestamp: ts }, 'collection:k1', 'collection.updated', { collectionId: 'k1', metadata: { size: 2 }, userId: 'u1', timestamp: ts }],
    ['collection:deleted', { collectionId: 'k1', userId: 'u1', timestamp: ts }, 'collection:k1', 'collection.deleted', { collectionId: 'k1', userId: 'u1', timestamp: ts }],
    ['system:notification', { type: 'info', message: 'Collection backup completed', details: { collectionId: 'agents', backupId: 'backup-123' }, timestamp: ts }, 'global', 'system.notification', { level: 'info', message: 'Collection backup completed', details: { collectionId: 'agents', backupId: 'backup-123' }, timestamp: ts }],
  ]
  it.each(cases)('rooms: %s example from the seed', (name, payload, channel, type, canonical) => {
    expect(single(dialects.rooms.decode([name, payload]))).toEqual(ev(channel, type, canonical))
  })
  it('rooms: an agent status the seed does not name passes through as it came', () => {
    // The rooms seed defines no status set: the old codec refused "paused" and the store kept the previous status.
    expect(single(dialects.rooms.decode(['agent:statusChanged', { agentId: 'a1', agent: { status: 'paused' } }]))).toMatchObject({ channel: 'agent:a1', event: { payload: { name: 'a1', status: 'paused' } } })
  })
  it('rooms: system notification levels come from its type', () => {
    for (const level of ['info', 'warning', 'error', 'success']) expect(single(dialects.rooms.decode(['system:notification', { type: level, message: 'm' }]))).toMatchObject({ event: { payload: { level } } })
  })
  it('rooms: text frames and unknown events', () => {
    expect(dialects.rooms.decode('["agent:created",{}]').ok).toBe(false)
    expect(dialects.rooms.decode(['presence:changed', { who: 'u1' }])).toEqual({ ok: true, messages: [], unknown: 'presence:changed', channel: 'global', event: { type: 'rooms:presence:changed', payload: { who: 'u1' }, untyped: true } })
  })
  it('rooms: subscribe and unsubscribe become one room emit per channel', () => {
    const r = dialects.rooms.encode({ type: 'subscribe', id: '1', channels: [{ channel: 'agent:agent-123' }, { channel: 'chat:c1' }, { channel: 'collection:k1' }, { channel: 'global' }] })
    expect(r.ok && framesOf(r)).toEqual([['subscribe:agent', 'agent-123'], ['subscribe:chat', 'c1'], ['subscribe:collection', 'k1']])
    const u = dialects.rooms.encode({ type: 'unsubscribe', id: '2', channels: ['agent:agent-123', 'chat:c1', 'collection:k1'] })
    expect(u.ok && framesOf(u)).toEqual([['unsubscribe:agent', 'agent-123'], ['unsubscribe:chat', 'c1'], ['unsubscribe:collection', 'k1']])
    // A channel without a room is refused alone, answered by the codec itself (nothing goes out for it).
    const bad = dialects.rooms.encode({ type: 'subscribe', id: '3', channels: [{ channel: 'task:1' }, { channel: 'agent:*' }, { channel: 'global' }] })
    expect(bad).toMatchObject({ ok: true, frames: [], local: [{ type: 'reply', id: '3', ok: true, result: [{ ok: false, channel: 'task:1', error: { code: 'unsupported' } }, { ok: false, channel: 'agent:*', error: { code: 'unsupported' } }, { ok: true, channel: 'global' }] }] })
  })
  it('rooms: ack becomes message:received or message:read; hello becomes client:ready', () => {
    expect(dialects.rooms.encode({ type: 'ack', channel: 'chat:c1', messageId: 'm1' })).toEqual({ ok: true, frame: ['message:received', { messageId: 'm1' }] })
    expect(dialects.rooms.encode({ type: 'ack', channel: 'chat:c1', messageId: 'm1', kind: 'read' })).toEqual({ ok: true, frame: ['message:read', { messageId: 'm1' }] })
    expect(dialects.rooms.encode({ type: 'hello', v: 1 })).toEqual({ ok: true, frames: [['client:ready']] })
    const r = dialects.rooms.encode({ type: 'start', id: '1', requestId: 'r', query: 'q' })
    expect(!r.ok && r.error.message).toBe('the rooms backend has no "start" command')
  })
})

describe('seed progress', () => {
  it('progress: progress example from the seed (socket.io and text)', () => {
    const body = { type: 'progress', requestId: 'req-123', agent: 'executor-agent', step: 1, status: 'running', data: { stepId: 's1', stepOrder: 1, tool: 'search' } }
    const want = ev('request:req-123', 'step.progress', { requestId: 'req-123', agent: 'executor-agent', step: 1, status: 'running', stepId: 's1', stepOrder: 1, tool: 'search', data: { stepId: 's1', stepOrder: 1, tool: 'search' } })
    expect(single(dialects.progress.decode(['progress', body]))).toEqual(want)
    expect(single(dialects.progress.decode(JSON.stringify(body)))).toEqual(want)
  })
  it('progress: a progress frame without requestId takes the connection\'s', () => {
    const codec = createProgressCodec({ requestId: 'req-9' })
    expect(single(codec.decode(['progress', { type: 'progress', agent: 'a', step: 2, status: 'completed', data: { result: 42 } }]))).toMatchObject({ channel: 'request:req-9', event: { payload: { result: 42, step: 2 } } })
    // No request known at all: handed on untyped rather than refused.
    expect(createProgressCodec().decode(['progress', { type: 'progress', agent: 'a', step: 2, status: 'completed' }])).toMatchObject({ ok: true, unknown: 'progress', event: { type: 'progress:progress', untyped: true } })
  })
  it('progress: executor.step.progress example from the seed (the broker form)', () => {
    const body = { type: 'executor.step.progress', requestId: 'req-123', agent: 'executor-agent', data: { stepId: 's1', stepOrder: 1, status: 'completed', result: 'ok' } }
    expect(single(dialects.progress.decode(['progress', { ...body, type: 'progress' }]))).toMatchObject({ event: { payload: { step: 1, status: 'completed', result: 'ok' } } })
    expect(single(dialects.progress.decode(JSON.stringify(body)))).toMatchObject({ channel: 'request:req-123', event: { type: 'step.progress' } })
  })
  it('progress: agent.completed example from the seed', () => {
    expect(single(dialects.progress.decode(['agent.completed', { type: 'agent.completed', agent: 'thought-agent', requestId: 'req-123', data: { ideas: 3 } }]))).toEqual(
      ev('request:req-123', 'agent.completed', { requestId: 'req-123', agent: 'thought-agent', data: { ideas: 3 } }),
    )
  })
  it('progress: error example from the seed', () => {
    expect(single(dialects.progress.decode(['error', { type: 'error', agent: 'executor-agent', message: 'Error message', step: 1 }]))).toEqual(ev('global', 'request.error', { agent: 'executor-agent', message: 'Error message', step: 1 }))
    expect(single(createProgressCodec({ requestId: 'r1' }).decode(['error', { type: 'error', agent: 'x', message: 'm' }]))).toMatchObject({ channel: 'request:r1' })
  })
  it('progress: request.completed example from the seed', () => {
    expect(single(dialects.progress.decode(['request.completed', { type: 'request.completed', requestId: 'req-123', result: { answer: 42 } }]))).toEqual(ev('request:req-123', 'request.completed', { requestId: 'req-123', result: { answer: 42 } }))
  })
  it('progress: state (the answer to rejoin) becomes a state message with the request', () => {
    const m = single(dialects.progress.decode(['state', { requestId: 'req-123', status: 'running', userQuery: 'q', steps: [{ step: 2, agent: 'b', status: 'running' }, { step: 1, agent: 'a', status: 'completed', result: 1 }], completedAgents: ['thought-agent'] }]))
    expect(m).toMatchObject({ type: 'state', channel: 'request:req-123', reason: 'rejoin', requestId: 'req-123' })
    if (m.type !== 'state') throw new Error('not state')
    const view = (m.state.requests as Record<string, unknown>)['req-123']
    expect(view).toEqual({ id: 'req-123', status: 'running', query: 'q', steps: [{ step: 1, agent: 'a', status: 'completed', result: 1 }, { step: 2, agent: 'b', status: 'running' }], questions: [], completedAgents: ['thought-agent'] })
  })
  it('progress: start, cancel, feedback and rejoin encode to the seed\'s frames', () => {
    const p = dialects.progress
    expect(p.encode({ type: 'start', id: '1', requestId: 'req-123', query: '...', context: { a: 1 } })).toEqual({ ok: true, frame: ['start', { type: 'start', requestId: 'req-123', userQuery: '...', context: { a: 1 } }] })
    expect(p.encode({ type: 'cancel', id: '2', requestId: 'req-123' })).toEqual({ ok: true, frame: ['cancel', { type: 'cancel', requestId: 'req-123' }] })
    expect(p.encode({ type: 'feedback', id: '3', requestId: 'req-123', questionId: 'q-1', answer: '...' })).toEqual({ ok: true, frame: ['feedback', { type: 'feedback', requestId: 'req-123', questionId: 'q-1', answer: '...' }] })
    expect(p.encode({ type: 'rejoin', id: '4', requestId: 'req-123' })).toEqual({ ok: true, frame: ['rejoin', { requestId: 'req-123' }] })
    const text = createProgressCodec({ wire: 'text' })
    expect(text.encode({ type: 'cancel', id: '2', requestId: 'req-123' })).toEqual({ ok: true, frame: '{"type":"cancel","requestId":"req-123"}' })
    expect(text.encode({ type: 'rejoin', id: '4', requestId: 'req-123' })).toEqual({ ok: true, frame: '{"type":"rejoin","requestId":"req-123"}' })
    expect(p.encode({ type: 'subscribe', id: '5', channels: [{ channel: 'agent:a' }] }).ok).toBe(false)
  })
})

describe('seed forge', () => {
  const f = (type: string, data: Record<string, unknown>) => single(dialects.forge.decode(JSON.stringify({ type, data, timestamp: '2024-01-01T00:00:00Z' })))
  it.each([
    ['agent_created', { agent_id: 'a1', name: 'Coder' }, 'agent:a1', 'agent.created'],
    ['status_changed', { agent_id: 'a1', status: 'working' }, 'agent:a1', 'agent.status'],
    ['agent_deleted', { agent_id: 'a1' }, 'agent:a1', 'agent.deleted'],
    ['task_started', { task_id: 't1', name: 'build' }, 'task:t1', 'task.started'],
    ['task_progress', { task_id: 't1', progress: 50, message: 'half' }, 'task:t1', 'task.progress'],
    ['task_completed', { task_id: 't1', result: 'ok', duration: 1.5 }, 'task:t1', 'task.completed'],
    ['task_failed', { task_id: 't1', error: 'boom' }, 'task:t1', 'task.failed'],
    ['node_added', { node_id: 'n1', label: 'Paris', node_type: 'city' }, 'knowledge', 'knowledge.node.added'],
    ['edge_added', { edge_id: 'e1', source: 'n1', target: 'n2', relation: 'in' }, 'knowledge', 'knowledge.edge.added'],
    ['knowledge_updated', { node_count: 10, edge_count: 12 }, 'knowledge', 'knowledge.updated'],
    ['metrics', { scope: 'system', values: { cpu: 0.3 } }, 'metrics', 'metrics.snapshot'],
    ['task_metrics', { values: { done: 4 } }, 'metrics', 'metrics.snapshot'],
    ['agent_metrics', { name: 'a1', values: { calls: 9 } }, 'metrics', 'metrics.snapshot'],
    ['custom_metrics', { name: 'app', values: { hits: 1 } }, 'metrics', 'metrics.snapshot'],
    ['dashboard_update', { agents: { total: 3 }, tasks: { running: 1 } }, 'global', 'dashboard.update'],
  ])('forge: %s event named in the seed', (type, data, channel, canonical) => {
    expect(f(type, data)).toMatchObject({ type: 'event', channel, event: { type: canonical } })
  })
  it('forge: field mappings', () => {
    expect(f('task_completed', { task_id: 't1', duration: 1.5 })).toMatchObject({ event: { payload: { durationMs: 1500 } } })
    expect(f('task_failed', { task_id: 't1', error: 'boom' })).toMatchObject({ event: { payload: { error: { message: 'boom' } } } })
    expect(f('status_changed', { agent_id: 'a1', status: 'working' })).toMatchObject({ event: { payload: { name: 'a1', status: 'busy' } } })
    expect(f('task_metrics', { values: { done: 4 } })).toMatchObject({ event: { payload: { scope: 'task' } } })
  })
  it('forge: ping/pong heartbeat both ways', () => {
    expect(single(dialects.forge.decode('{"type":"ping"}'))).toEqual({ type: 'ping' })
    expect(single(dialects.forge.decode('{"type":"pong","timestamp":"t"}'))).toEqual({ type: 'pong' })
    expect(dialects.forge.encode({ type: 'ping', t: 1 })).toEqual({ ok: true, frame: '{"type":"ping"}' })
    expect(dialects.forge.encode({ type: 'pong' })).toEqual({ ok: true, frame: '{"type":"pong"}' })
    expect(dialects.forge.capabilities.heartbeat).toBe('text')
  })
  it('forge: which endpoints a set of subscriptions needs', () => {
    expect(forgeEndpointsFor(['task:t1', 'agent:*', 'agent:a1'])).toEqual(['/ws/agents', '/ws/tasks'])
    expect(forgeEndpointsFor(['knowledge', 'metrics', 'global'])).toEqual(['/ws/knowledge', '/ws/metrics', '/ws/dashboard'])
    expect(forgeEndpointsFor(['*'])).toHaveLength(5)
    expect(forgeEndpointsFor(['chat:1'])).toEqual([])
  })
})
