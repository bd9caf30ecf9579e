import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  AGENT_STATUS_SYNONYMS,
  createProgressCodec,
  createRoomsCodec,
  createWebguiCodec,
  forge,
  initialState,
  reduce,
  routing,
  type AgentEvent,
  type AgentwireState,
  type Codec,
  type DecodeResult,
  type EventMessage,
  type ServerMessage,
} from 'agentwire/protocol'

/**
 * For every message type each seed names: variants within what the seed leaves open (ids as
 * text or numbers, numbers as text, optional fields missing or null, extra fields, status
 * words of the backend's own, timestamps in any form) never fail to decode, never throw, and
 * put the fields the codec knows into the store.
 */

const RUNS = 200

// ── what the seeds leave open ───────────────────────────────────────────────────────────
const idText = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,15}$/)
/** An id as JSON from Python or JavaScript may carry it: text or an integer. */
const anyId = fc.oneof(idText, fc.integer({ min: 0, max: 1_000_000 }))
const number = fc.double({ min: 0, max: 100, noNaN: true, noDefaultInfinity: true })
/** A number, or the same number as text (`"45"`). */
const numeric = fc.oneof(number, number.map(String))
const word = fc.stringMatching(/^[a-z][a-z_]{0,18}$/)
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype']
const timestamp = fc.oneof(fc.constant('2024-01-01T12:00:00Z'), fc.constant('2026-12-06T23:34:11.470719'), fc.integer({ min: 0, max: 2_000_000_000_000 }), fc.double({ min: 0, max: 2e9, noNaN: true, noDefaultInfinity: true }))
const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown)
/** Optional: present, null, or absent (`undefined` is dropped by JSON). */
const opt = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.constant(null), fc.constant(undefined))
/** Fields no seed names, which must be kept (in `raw`) and never refused. */
const extra = fc.dictionary(fc.stringMatching(/^x_[a-z]{1,6}$/), json, { maxKeys: 3 })
const text = fc.string({ maxLength: 40 })

const wire = (o: unknown) => JSON.parse(JSON.stringify(o)) as Record<string, unknown>
const str = (v: unknown) => String(v)

/** The canonical events a frame decoded to, and the state they build. */
function decoded(r: DecodeResult): { events: EventMessage[]; state: AgentwireState } {
  expect(r.ok).toBe(true)
  if (!r.ok) throw r.error
  expect('unknown' in r).toBe(false)
  const events = (r.messages as ServerMessage[]).filter((m): m is EventMessage => m.type === 'event')
  expect(events.length).toBeGreaterThan(0)
  let state = initialState()
  for (const m of events) {
    expect((m.event as { raw?: unknown }).raw).toBeDefined()
    state = reduce(state, m.event as AgentEvent)
  }
  return { events, state }
}

function decode(codec: Codec, frame: unknown): DecodeResult {
  let result: DecodeResult | undefined
  expect(() => (result = codec.decode(frame))).not.toThrow()
  return result!
}

const canonicalStatus = (s: string) => (Object.prototype.hasOwnProperty.call(AGENT_STATUS_SYNONYMS, s.toLowerCase()) ? AGENT_STATUS_SYNONYMS[s.toLowerCase()] : s)

describe('routing: every variant the seed allows decodes into the store', () => {
  it('routing_decision', () => {
    const decision = fc.record({
      taskId: anyId,
      agent: fc.record({ name: idText, strengths: opt(fc.array(text, { maxLength: 3 })), cost: opt(numeric), latency: opt(numeric) }),
      timestamp: opt(fc.oneof(timestamp, fc.integer({ min: 0, max: 2e9 }).map(String))),
    })
    fc.assert(
      fc.property(decision, extra, fc.boolean(), (payload, more, bare) => {
        const frame = wire({ type: 'routing_decision', payload: { ...payload, ...more } })
        const { events, state } = decoded(decode(routing, JSON.stringify(bare ? { ...frame, ...more } : frame)))
        expect(events[0]).toMatchObject({ channel: `task:${str(payload.taskId)}`, event: { type: 'routing.decision' } })
        expect(state.tasks[str(payload.taskId)]).toMatchObject({ status: 'routed', agent: payload.agent.name })
        expect(state.agents[payload.agent.name]).toBeDefined()
        if (payload.agent.cost != null) expect(state.agents[payload.agent.name]!.cost).toBe(Number(payload.agent.cost))
      }),
      { numRuns: RUNS },
    )
  })
  it('agent_status', () => {
    const status = fc.record({ name: idText, status: fc.oneof(fc.constantFrom('available', 'busy', 'offline'), word), load: opt(numeric) })
    fc.assert(
      fc.property(status, extra, (payload, more) => {
        const { state } = decoded(decode(routing, JSON.stringify(wire({ type: 'agent_status', payload: { ...payload, ...more } }))))
        expect(state.agents[payload.name]).toMatchObject({ status: canonicalStatus(payload.status) })
        if (payload.load != null) expect(state.agents[payload.name]!.load).toBe(Number(payload.load))
      }),
      { numRuns: RUNS },
    )
  })
})

describe('webgui: every kind of update the ADR names decodes into the store', () => {
  const envelope = (type: string, data: unknown, session: unknown) => JSON.stringify(wire({ type, timestamp: '2024-01-01T12:00:00Z', session_id: session, data }))
  const session = anyId
  it('session_status_changed', () => {
    fc.assert(
      fc.property(session, fc.record({ status: fc.oneof(fc.constantFrom('testing', 'running'), word), progress: numeric, message: opt(text) }), extra, (sid, data, more) => {
        const { events, state } = decoded(decode(createWebguiCodec(), envelope('session_status_changed', { ...data, ...more }, sid)))
        expect(events[0]!.channel).toBe(`session:${str(sid)}`)
        expect(state.sessions[str(sid)]).toMatchObject({ status: data.status, progress: Number(data.progress) })
      }),
      { numRuns: RUNS },
    )
  })
  it('task_progress stays on the session channel it was published to', () => {
    fc.assert(
      fc.property(session, fc.record({ task_id: anyId, agent: idText, progress: numeric, message: opt(text), step: opt(numeric), total_steps: opt(numeric) }), extra, (sid, data, more) => {
        const { events, state } = decoded(decode(createWebguiCodec(), envelope('task_progress', { ...data, ...more }, sid)))
        expect(events[0]!.channel).toBe(`session:${str(sid)}`)
        expect(state.tasks[str(data.task_id)]).toMatchObject({ progress: Number(data.progress) })
      }),
      { numRuns: RUNS },
    )
  })
  it('test_result and notification are notifications, with any level word', () => {
    const test = fc.record({ test_name: text, status: fc.oneof(fc.constantFrom('passed', 'failed', 'skipped'), word), duration_ms: numeric, error: opt(text) })
    const note = fc.record({ level: fc.oneof(fc.constantFrom('info', 'warning', 'error', 'success'), word), message: text, title: opt(text), link: opt(text) })
    fc.assert(
      fc.property(session, fc.oneof(test.map((d) => ['test_result', d] as const), note.map((d) => ['notification', d] as const)), extra, (sid, [type, data], more) => {
        const { state } = decoded(decode(createWebguiCodec(), envelope(type, { ...data, ...more }, type === 'notification' ? null : sid)))
        expect(state.notifications).toHaveLength(1)
        if (type === 'notification') expect(state.notifications[0]).toMatchObject({ level: (data as { level: string }).level })
      }),
      { numRuns: RUNS },
    )
  })
  it('user_joined / user_left keep who is in the session', () => {
    fc.assert(
      fc.property(session, anyId, opt(text), (sid, user, username) => {
        const codec = createWebguiCodec()
        const joined = decoded(decode(codec, envelope('user_joined', { user_id: user, username }, sid)))
        expect(joined.state.sessions[str(sid)]?.users).toEqual([str(user)])
        const left = decoded(decode(codec, envelope('user_left', { user_id: user }, sid)))
        expect(reduce(joined.state, left.events[0]!.event as AgentEvent).sessions[str(sid)]?.users).toEqual([])
      }),
      { numRuns: RUNS },
    )
  })
  it('agent_status_changed and metrics_update', () => {
    fc.assert(
      fc.property(idText, fc.oneof(fc.constantFrom('idle', 'busy', 'offline'), word), fc.record({ active_sessions: numeric, cpu_percent: numeric, queue_depth: opt(numeric) }), (agent, status, metrics) => {
        const a = decoded(decode(createWebguiCodec(), envelope('agent_status_changed', { agent, status, current_task: null }, null)))
        expect(a.state.agents[agent]).toMatchObject({ status: canonicalStatus(status) })
        const m = decoded(decode(createWebguiCodec(), envelope('metrics_update', metrics, null)))
        expect(m.state.metrics.system?.values).toMatchObject({ active_sessions: Number(metrics.active_sessions), cpu_percent: Number(metrics.cpu_percent) })
      }),
      { numRuns: RUNS },
    )
  })
})

describe('rooms: every server event the seed lists decodes into the store', () => {
  const actor = fc.record({ userId: opt(anyId), timestamp: opt(fc.oneof(timestamp, fc.integer({ min: 0, max: 2e12 }).map(String))) })
  const record = fc.record({ name: opt(text), status: opt(fc.oneof(fc.constantFrom('active', 'idle', 'busy'), word)), x: opt(json) })
  const cases = [
    ['agent:created', 'agentId', 'agent', (s: AgentwireState, id: string) => expect(s.agents[id]).toBeDefined()],
    ['agent:updated', 'agentId', 'agent', (s: AgentwireState, id: string) => expect(s.agents[id]).toBeDefined()],
    ['agent:deleted', 'agentId', undefined, (s: AgentwireState, id: string) => expect(s.agents[id]).toBeUndefined()],
    ['chat:created', 'chatId', 'chat', (s: AgentwireState, id: string) => expect(s.chats[id]).toBeDefined()],
    ['chat:updated', 'chatId', 'chat', (s: AgentwireState, id: string) => expect(s.chats[id]).toBeDefined()],
    ['chat:deleted', 'chatId', undefined, (s: AgentwireState, id: string) => expect(s.chats[id]).toBeUndefined()],
    ['collection:created', 'collectionId', 'metadata', (s: AgentwireState, id: string) => expect(s.collections[id]).toBeDefined()],
    ['collection:updated', 'collectionId', 'metadata', (s: AgentwireState, id: string) => expect(s.collections[id]).toBeDefined()],
    ['collection:deleted', 'collectionId', undefined, (s: AgentwireState, id: string) => expect(s.collections[id]).toBeUndefined()],
  ] as const
  it.each(cases)('%s', (event, idField, recordField, check) => {
    fc.assert(
      fc.property(anyId, opt(record), actor, extra, (id, body, who, more) => {
        const payload = wire({ [idField]: id, ...(recordField === undefined ? {} : { [recordField]: body }), ...who, ...more })
        const { events, state } = decoded(decode(createRoomsCodec(), [event, payload]))
        expect(events[0]!.channel).toBe(`${event.slice(0, event.indexOf(':'))}:${str(id)}`)
        check(state, str(id))
      }),
      { numRuns: RUNS },
    )
  })
  it('agent:statusChanged keeps the word the backend used', () => {
    fc.assert(
      fc.property(anyId, fc.oneof(fc.constantFrom('active', 'idle', 'busy', 'error', 'paused'), word), actor, (id, status, who) => {
        const { state } = decoded(decode(createRoomsCodec(), ['agent:statusChanged', wire({ agentId: id, agent: { id, status }, ...who })]))
        expect(state.agents[str(id)]).toMatchObject({ status: canonicalStatus(status) })
      }),
      { numRuns: RUNS },
    )
  })
  it('chat:messageCreated, participantJoined and participantLeft', () => {
    fc.assert(
      fc.property(anyId, anyId, anyId, actor, (chat, message, participant, who) => {
        const codec = createRoomsCodec()
        const m = decoded(decode(codec, ['chat:messageCreated', wire({ chatId: chat, messageId: message, ...who })]))
        expect(m.state.chats[str(chat)]).toMatchObject({ messages: 1, lastMessageId: str(message) })
        const j = decoded(decode(codec, ['chat:participantJoined', wire({ chatId: chat, participantId: participant, ...who })]))
        expect(j.state.chats[str(chat)]?.participants).toEqual([str(participant)])
        const l = decode(codec, ['chat:participantLeft', wire({ chatId: chat, participantId: participant, ...who })])
        decoded(l)
      }),
      { numRuns: RUNS },
    )
  })
  it('system:notification with any level and any details', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom('info', 'warning', 'error', 'success'), word), opt(text), opt(json), (level, message, details) => {
        const { state } = decoded(decode(createRoomsCodec(), ['system:notification', wire({ type: level, message, details, timestamp: Date.now() })]))
        expect(state.notifications[0]).toMatchObject({ level })
      }),
      { numRuns: RUNS },
    )
  })
})

describe('progress: every server frame the seed names decodes into the store', () => {
  const step = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 20 }).map(String), fc.constantFrom('step-3', 'run_analysis', null), fc.constant(undefined))
  const stepStatus = fc.oneof(fc.constantFrom('running', 'completed', 'failed'), word)
  it('progress (the seed form and the broker form), with or without a request id', () => {
    fc.assert(
      fc.property(idText, fc.boolean(), idText, step, stepStatus, opt(fc.record({ stepId: opt(idText), stepOrder: opt(numeric), tool: opt(text), result: opt(json) })), extra, (requestId, named, agent, s, status, data, more) => {
        const codec = createProgressCodec({ requestId })
        const body = wire({ type: 'progress', agent, step: s, status, data, ...(named && { requestId }), ...more })
        const { events, state } = decoded(decode(codec, ['progress', body]))
        expect(events[0]!.channel).toBe(`request:${requestId}`)
        expect(state.requests[requestId]?.steps[0]).toMatchObject({ agent, status })
      }),
      { numRuns: RUNS },
    )
  })
  it('a progress that asks for feedback becomes a question; answering is the client\'s feedback', () => {
    fc.assert(
      fc.property(idText, idText, text, fc.array(text, { maxLength: 3 }), (requestId, questionId, question, options) => {
        const codec = createProgressCodec({ requestId })
        const { state } = decoded(decode(codec, ['progress', wire({ type: 'progress', agent: 'executor-agent', step: 2, status: 'waiting_for_feedback', data: { questionId, question, options } })]))
        expect(state.requests[requestId]).toMatchObject({ status: 'waiting', questions: [{ questionId, question, answered: false }] })
      }),
      { numRuns: RUNS },
    )
  })
  it('agent.completed, error and request.completed in any of their forms', () => {
    fc.assert(
      fc.property(fc.oneof(idText, fc.integer({ min: 0, max: 1e6 })), idText, opt(json), fc.constantFrom('completed', 'success', 'partial', 'failed', 'cancelled', undefined), opt(fc.oneof(text, fc.record({ code: text, message: text }))), (requestId, agent, data, status, error) => {
        const id = str(requestId)
        const codec = createProgressCodec()
        const done = decoded(decode(codec, ['agent.completed', wire({ type: 'agent.completed', agent, requestId, data })]))
        expect(done.state.requests[id]?.completedAgents).toEqual([agent])
        const failed = decoded(decode(codec, ['error', wire({ type: 'error', agent, message: 'boom', step: 1, requestId })]))
        expect(failed.state.requests[id]).toMatchObject({ status: 'failed', error: { message: 'boom', agent } })
        const end = decoded(decode(codec, ['request.completed', wire({ type: 'request.completed', requestId, result: data, status, error })]))
        const want = status === 'cancelled' ? 'cancelled' : status === 'failed' ? 'failed' : 'completed'
        expect(end.state.requests[id]?.status).toBe(want)
      }),
      { numRuns: RUNS },
    )
  })
  it('state restores what it can: any status, steps as a list or a map, error as text, object or null', () => {
    const stepEntry = fc.record({ agent: opt(idText), step: step, stepId: opt(idText), name: opt(text), status: opt(stepStatus), result: opt(json) })
    fc.assert(
      fc.property(fc.oneof(idText, fc.integer({ min: 0, max: 1e6 })), fc.oneof(fc.constantFrom('running', 'completed', 'failed', 'not_found', 'queued', 'planning', 'waiting_for_feedback'), word), fc.array(stepEntry, { maxLength: 5 }), fc.boolean(), opt(fc.oneof(text, fc.record({ code: text, message: text }))), (requestId, status, steps, asMap, error) => {
        const list = wire(steps) as unknown as Record<string, unknown>[]
        const body = wire({ requestId, status, steps: asMap ? Object.fromEntries(list.map((s, i) => [`s${i}`, s])) : list, error, completedAgents: ['a'], pendingQuestion: null })
        const r = decode(createProgressCodec(), ['state', body])
        expect(r.ok && r.messages[0]?.type).toBe('state')
        if (!r.ok || r.messages[0]?.type !== 'state') return
        const view = (r.messages[0].state.requests as Record<string, { status: string; steps: unknown[] }>)[str(requestId)]
        expect(view).toMatchObject({ status, completedAgents: ['a'] })
        expect(view!.steps).toHaveLength(steps.length)
      }),
      { numRuns: RUNS },
    )
  })
})

describe('forge: every event the seed names decodes into the store', () => {
  const frame = (type: string, data: unknown) => JSON.stringify(wire({ type, timestamp: '2026-12-06T23:35:15.853544', data }))
  it('agent events, with any status word', () => {
    fc.assert(
      fc.property(anyId, fc.oneof(fc.constantFrom('active', 'busy', 'offline'), word), extra, (id, status, more) => {
        const created = decoded(decode(forge, frame('agent_created', { agent_id: id, name: 'n', agent_type: 't', status: 'idle', ...more })))
        expect(created.state.agents[str(id)]).toBeDefined()
        const changed = decoded(decode(forge, frame('status_changed', { agent_id: id, new_status: status, old_status: 'idle' })))
        expect(changed.state.agents[str(id)]).toMatchObject({ status: canonicalStatus(status) })
        decoded(decode(forge, frame('agent_deleted', { agent_id: id, reason: null })))
      }),
      { numRuns: RUNS },
    )
  })
  it('task events: progress as a percentage (`percentage` or `progress`), errors as text', () => {
    fc.assert(
      fc.property(anyId, numeric, fc.boolean(), opt(text), (id, pct, percentage, message) => {
        const progress = decoded(decode(forge, frame('task_progress', { task_id: id, [percentage ? 'percentage' : 'progress']: pct, message, current_step: null })))
        expect(progress.state.tasks[str(id)]?.progress).toBeCloseTo(Math.min(100, Number(pct)))
        decoded(decode(forge, frame('task_started', { task_id: id, agent_id: 'a', description: message })))
        const done = decoded(decode(forge, frame('task_completed', { task_id: id, result: 'done', duration_seconds: String(pct) })))
        expect(done.state.tasks[str(id)]).toMatchObject({ status: 'completed', durationMs: Number(pct) * 1000 })
        const failed = decoded(decode(forge, frame('task_failed', { task_id: id, error: 'boom', error_type: 'ValueError', traceback: null })))
        expect(failed.state.tasks[str(id)]).toMatchObject({ status: 'failed', error: { message: 'boom', code: 'ValueError' } })
      }),
      { numRuns: RUNS },
    )
  })
  it('knowledge events', () => {
    fc.assert(
      fc.property(anyId, anyId, numeric, numeric, (a, b, nodes, edges) => {
        decoded(decode(forge, frame('node_added', { node_id: a, node_type: 'concept', label: 'x', properties: { confidence: '0.5' } })))
        decoded(decode(forge, frame('edge_added', { source_id: a, target_id: b, relation: 'r', weight: '0.5', edge_id: null })))
        const updated = decoded(decode(forge, frame('knowledge_updated', { node_count: nodes, edge_count: edges, change: null })))
        expect(updated.state.knowledge).toEqual({ nodes: Number(nodes), edges: Number(edges) })
      }),
      { numRuns: RUNS },
    )
  })
  // `name`, `scope`, `metric_type`, `timestamp` and `interval_seconds` describe the metrics: they are not values.
  it('metrics_update of any metric type, and dashboard aggregates whose members are objects', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom('system', 'tasks', 'agents', 'custom'), word), fc.dictionary(fc.stringMatching(/^[a-z_]{1,10}$/).filter((k) => !['name', 'scope', 'metric_type', 'timestamp', 'interval_seconds', ...PROTOTYPE_KEYS].includes(k)), numeric, { minKeys: 1, maxKeys: 4 }), fc.dictionary(word, fc.integer({ min: 0, max: 9 }), { maxKeys: 3 }), (type, metrics, byStatus) => {
        const m = decoded(decode(forge, frame('metrics_update', { metric_type: type, metrics, interval_seconds: '5' })))
        const view = Object.values(m.state.metrics)[0]
        for (const [k, v] of Object.entries(metrics)) expect(view?.values[k]).toBe(Number(v))
        const d = decoded(decode(forge, frame('dashboard_update', { agents: { total: 3, active: '2', by_status: byStatus }, tasks: { total: 1 }, metrics: { cpu_percent: '12.5' }, recent_events: [] })))
        expect(d.state.dashboard?.agents).toMatchObject({ total: 3, active: 2, ...Object.fromEntries(Object.entries(byStatus).map(([k, v]) => [`by_status.${k}`, v])) })
        expect(d.state.dashboard?.metrics).toEqual({ cpu_percent: 12.5 })
      }),
      { numRuns: RUNS },
    )
  })
  // The generator above can spell `__proto__`; the codec drops such keys (they never reach the store).
  it('a metric named like a prototype key is dropped, the others kept', () => {
    const m = decoded(decode(forge, frame('metrics_update', { metric_type: 'system', metrics: JSON.parse('{"__proto__": 1, "constructor": 2, "cpu": "3"}') })))
    const values = Object.values(m.state.metrics)[0]?.values
    expect(values).toEqual({ cpu: 3 })
    for (const key of PROTOTYPE_KEYS) expect(Object.hasOwn(values!, key)).toBe(false)
    expect(({} as Record<string, unknown>)['cpu']).toBeUndefined()
  })
})

describe('only a frame that cannot be read at all is an error', () => {
  it('any JSON object with a string type decodes, known or not, and never throws', () => {
    const codecs: Array<[string, () => Codec, (f: object) => unknown]> = [
      ['routing', () => routing, (f) => JSON.stringify(f)],
      ['webgui', () => createWebguiCodec(), (f) => JSON.stringify(f)],
      ['forge', () => forge, (f) => JSON.stringify(f)],
      ['rooms', () => createRoomsCodec(), (f) => [(f as { type: string }).type, f]],
      ['progress', () => createProgressCodec(), (f) => [(f as { type: string }).type, f]],
    ]
    fc.assert(
      fc.property(fc.constantFrom(...codecs), fc.string({ minLength: 1, maxLength: 20 }), fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 5 }), ([, make, frame], type, body) => {
        const r = decode(make(), frame({ ...body, type }))
        expect(r.ok).toBe(true)
      }),
      { numRuns: RUNS * 5 },
    )
    for (const [, make, frame] of codecs) {
      const codec = make()
      const bad = typeof frame({ type: 'x' }) === 'string' ? ['not json', '{"no":"type"}', '[1,2]'] : [{ not: 'an array' }, [42, {}]]
      for (const f of bad) expect(decode(codec, f).ok).toBe(false)
    }
  })
})
