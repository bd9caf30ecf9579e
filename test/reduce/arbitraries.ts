import fc from 'fast-check'
import { AgentEventSchema, type AgentEvent } from 'agentwire/protocol'

/** Few ids, so events collide on the same entities; some name prototype members. */
const id = fc.constantFrom('a', 'b', 'c', '__proto__', 'constructor', 'toString')
const small = fc.integer({ min: 0, max: 5 })
// JSON has no -0 (it reads back as 0), and no producer sends one on purpose.
const num = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x))
const text = fc.constantFrom('', 'x', 'hello', 'ünïcode')
const ts = fc.oneof(fc.constantFrom('2024-01-01T00:00:00Z'), fc.integer({ min: 0, max: 10 }))
const rec = fc.dictionary(fc.constantFrom('k', 'name', 'n', 'list'), fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.array(fc.integer(), { maxLength: 3 })), { maxKeys: 3 })
const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined })
// Any JSON value as it arrives: read from text, so without -0 (fc.jsonValue may nest one).
const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown)

/** Drops `undefined` fields, as a decoded event never carries them. */
function clean<T extends object>(o: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out as T
}

const event = <T extends AgentEvent['type']>(type: T, payload: fc.Arbitrary<object>) =>
  payload.map((p) => ({ type, payload: clean(p) }) as unknown as AgentEvent)

/** Any canonical event as a producer might write it, over a small world of ids. */
export const rawEvent: fc.Arbitrary<AgentEvent> = fc.oneof(
  event('routing.decision', fc.record({ taskId: id, agent: fc.record({ name: id, strengths: fc.array(text, { maxLength: 2 }), cost: num, latency: num }), timestamp: small })),
  event('agent.status', fc.record({ name: id, status: fc.constantFrom('available', 'busy', 'offline'), load: opt(num), agent: opt(rec) })),
  event('session.status', fc.record({ sessionId: id, status: fc.constantFrom('ready', 'busy'), progress: opt(small), message: opt(text), timestamp: opt(ts) })),
  event('agent.created', fc.record({ agentId: id, agent: rec })),
  event('agent.updated', fc.record({ agentId: id, agent: rec })),
  event('agent.deleted', fc.record({ agentId: id })),
  event('chat.created', fc.record({ chatId: id, chat: rec })),
  event('chat.updated', fc.record({ chatId: id, chat: rec })),
  event('chat.deleted', fc.record({ chatId: id })),
  event('chat.message.created', fc.record({ chatId: id, messageId: id })),
  event('chat.participant.joined', fc.record({ chatId: id, participantId: id })),
  event('chat.participant.left', fc.record({ chatId: id, participantId: id })),
  event('collection.created', fc.record({ collectionId: id, metadata: rec })),
  event('collection.updated', fc.record({ collectionId: id, metadata: rec })),
  event('collection.deleted', fc.record({ collectionId: id })),
  event('system.notification', fc.record({ level: fc.constantFrom('info', 'warning', 'error', 'success'), message: text, title: opt(text), timestamp: opt(ts) })),
  event('request.started', fc.record({ requestId: id, query: text, context: opt(rec) })),
  event('step.progress', fc.record({ requestId: id, agent: id, step: small, status: fc.constantFrom('running', 'completed', 'failed'), stepId: opt(id), stepOrder: opt(small), tool: opt(text), result: opt(json) })),
  event('agent.completed', fc.record({ requestId: id, agent: id })),
  event('request.question', fc.record({ requestId: id, questionId: id, question: text, options: opt(fc.array(text, { maxLength: 2 })) })),
  event('request.feedback', fc.record({ requestId: id, questionId: id, answer: json })),
  event('request.error', fc.record({ requestId: opt(id), agent: opt(id), message: text, step: opt(small) })),
  event('request.completed', fc.record({ requestId: id, result: json })),
  event('request.cancelled', fc.record({ requestId: id, reason: opt(text) })),
  event('task.started', fc.record({ taskId: id, name: opt(text), agent: opt(id), description: opt(text) })),
  event('task.progress', fc.record({ taskId: id, progress: fc.integer({ min: 0, max: 100 }), message: opt(text), step: opt(text), agent: opt(id) })),
  event('task.completed', fc.record({ taskId: id, result: opt(json), durationMs: opt(small) })),
  event('task.failed', fc.record({ taskId: id, error: fc.record({ message: text, code: opt(text) }).map(clean) })),
  event('knowledge.node.added', fc.record({ nodeId: id })),
  event('knowledge.edge.added', fc.record({ source: id, target: id })),
  event('knowledge.updated', fc.record({ nodes: opt(num), edges: opt(small) })),
  event('metrics.snapshot', fc.record({ scope: fc.constantFrom('system', 'task', 'agent', 'custom'), name: opt(id), values: fc.dictionary(fc.constantFrom('cpu', 'mem'), num), timestamp: opt(ts) })),
  event('dashboard.update', fc.record({ agents: opt(fc.dictionary(id, small)), tasks: opt(fc.dictionary(fc.constantFrom('running', 'done'), small)), timestamp: opt(ts) })),
  event('message.started', fc.record({ requestId: id, messageId: id, role: opt(fc.constantFrom('assistant', 'user')), agent: opt(id) })),
  event('message.delta', fc.record({ requestId: id, messageId: id, delta: text })),
  event('message.ended', fc.record({ requestId: id, messageId: id })),
  event('tool.call.started', fc.record({ requestId: id, toolCallId: id, name: id, parentMessageId: opt(id) })),
  event('tool.call.args', fc.record({ requestId: id, toolCallId: id, delta: text })),
  event('tool.call.ended', fc.record({ requestId: id, toolCallId: id })),
  event('tool.call.result', fc.record({ requestId: id, toolCallId: id, result: json, messageId: opt(id) })),
  event('request.state', fc.record({ requestId: id, state: json })),
)

/**
 * Any canonical event as the client receives it: through the schema, which strips what a
 * decoded event never carries (e.g. a `__proto__` key inside a record).
 */
export const anyEvent: fc.Arbitrary<AgentEvent> = rawEvent.map((event) => AgentEventSchema.parse(event))

export const channel = fc.constantFrom('global', 'agent:a', 'request:r', 'task:t')

/**
 * Events that edit lists inside one entity (steps, questions, completed agents,
 * participants), over one request and one chat: long runs of them in one batch are what
 * exercise a draft changing its own copies in place.
 */
const one = fc.constant('r')
const few = fc.constantFrom('a', 'b', 'c')
export const listEvent: fc.Arbitrary<AgentEvent> = fc
  .oneof(
    event('step.progress', fc.record({ requestId: one, agent: few, step: fc.integer({ min: 0, max: 3 }), status: fc.constantFrom('running', 'completed', 'failed'), stepId: opt(fc.constantFrom('s1', 's2')), stepOrder: opt(fc.integer({ min: 0, max: 3 })), tool: opt(text) })),
    event('request.question', fc.record({ requestId: one, questionId: few, question: text, options: opt(fc.array(text, { maxLength: 2 })) })),
    event('request.feedback', fc.record({ requestId: one, questionId: few, answer: fc.constantFrom('yes', 'no', 1) })),
    event('agent.completed', fc.record({ requestId: one, agent: few })),
    event('request.started', fc.record({ requestId: one, query: text })),
    event('message.delta', fc.record({ requestId: one, messageId: few, delta: text })),
    event('tool.call.args', fc.record({ requestId: one, toolCallId: few, delta: text })),
    event('tool.call.result', fc.record({ requestId: one, toolCallId: few, result: fc.constantFrom('ok', 1) })),
    event('chat.participant.joined', fc.record({ chatId: one, participantId: few })),
    event('chat.participant.left', fc.record({ chatId: one, participantId: few })),
    event('chat.message.created', fc.record({ chatId: one, messageId: few })),
    event('knowledge.node.added', fc.record({ nodeId: few })),
    event('system.notification', fc.record({ level: fc.constantFrom('info', 'error'), message: text, timestamp: opt(fc.integer({ min: 0, max: 2 })) })),
  )
  .map((e) => AgentEventSchema.parse(e))
