import { describe, expect, it } from 'vitest'
import {
  MAX_NOTIFICATIONS,
  ProtocolError,
  initialState,
  parseJson,
  parseState,
  reduce,
  replaceChannel,
  serializeState,
  type AgentEvent,
  type AgentwireState,
} from 'agentwire/protocol'
import { ev, fold } from './fold'

/** A state touching every view, with ids that name prototype members. */
function richState(): AgentwireState {
  return fold([
    ev('routing.decision', { taskId: 't1', agent: { name: 'planner', strengths: ['plan'], cost: 1, latency: 2 }, timestamp: 3 }),
    ev('agent.status', { name: '__proto__', status: 'busy', load: 0.5 }),
    ev('agent.created', { agentId: 'constructor', agent: { name: 'C', nested: { deep: [1, 2] } } }),
    ev('session.status', { sessionId: 's1', status: 'ready', progress: 100 }),
    ev('chat.message.created', { chatId: 'toString', messageId: 'm1' }),
    ev('chat.participant.joined', { chatId: 'toString', participantId: 'p' }),
    ev('collection.created', { collectionId: 'k', metadata: { a: 1 } }),
    ev('system.notification', { level: 'success', message: 'done', details: { n: 1 }, timestamp: 'now' }),
    ev('request.started', { requestId: '__proto__', query: 'q', context: { x: true } }),
    ev('step.progress', { requestId: '__proto__', agent: 'a', step: 1, status: 'running', data: { k: 'v' } }),
    ev('request.question', { requestId: '__proto__', questionId: 'q1', question: '?', options: ['y', 'n'] }),
    ev('task.failed', { taskId: 'prototype', error: { message: 'x', details: [1] } }),
    ev('knowledge.node.added', { nodeId: 'n' }),
    ev('metrics.snapshot', { scope: 'agent', name: 'planner', values: { calls: 2 } }),
    ev('dashboard.update', { agents: { total: 2 } }),
  ])
}

const KEYED = ['agents', 'tasks', 'requests', 'sessions', 'chats', 'collections', 'metrics'] as const

function parsed(value: unknown): AgentwireState {
  const result = parseState(value)
  if (!result.ok) throw result.error
  return result.state
}

describe('parseState', () => {
  it('accepts what reduce produces, through JSON.stringify and JSON.parse, deep-equal', () => {
    const state = richState()
    const back = parsed(JSON.parse(JSON.stringify(state)))
    expect(back).toEqual(state)
    expect(Object.keys(back)).toEqual(Object.keys(state))
    for (const key of KEYED) expect(Object.getPrototypeOf(back[key])).toBeNull()
    expect(Object.keys(back.agents)).toContain('__proto__')
  })

  it('accepts the serialized form, which survives a safe JSON reader that drops prototype keys', () => {
    const state = richState()
    const text = JSON.stringify(serializeState(state))
    const safe = parseJson(text)
    expect(safe.ok).toBe(true)
    const back = parsed(safe.ok ? safe.value : undefined)
    expect(back).toEqual(state)
    expect(Object.keys(back.agents).sort()).toEqual(['__proto__', 'constructor', 'planner'])
    // The same text through the object form would lose them: that is why the pairs exist.
    const plain = parseJson(JSON.stringify(state))
    expect(plain.ok && Object.keys(parsed(plain.value).agents)).not.toContain('__proto__')
  })

  it('never lets a __proto__ or constructor key reach a prototype', () => {
    const text = '{"agents":{"__proto__":{"name":"__proto__","status":"busy"},"constructor":{"name":"c"}},"tasks":[["__proto__",{"id":"__proto__","status":"running","progress":1}]]}'
    const back = parsed(JSON.parse(text))
    expect(Object.getPrototypeOf(back.agents)).toBeNull()
    expect(Object.getOwnPropertyNames(back.agents).sort()).toEqual(['__proto__', 'constructor'])
    expect(back.tasks['__proto__']).toEqual({ id: '__proto__', status: 'running', progress: 1 })
    expect(({} as Record<string, unknown>)['status']).toBeUndefined()
    expect(({} as Record<string, unknown>)['progress']).toBeUndefined()
  })

  it('takes a missing part as empty and strips unknown fields', () => {
    const back = parsed({ requests: { r: { id: 'r', status: 'running', steps: [], questions: [], completedAgents: [], extra: 1 } }, future: {} })
    expect(back).toEqual({ ...initialState(), requests: { r: { id: 'r', status: 'running', steps: [], questions: [], completedAgents: [] } } })
    expect(back.requests['r']).not.toHaveProperty('extra')
  })

  it('keeps the newest entries of a list longer than its bound', () => {
    const notifications = Array.from({ length: MAX_NOTIFICATIONS + 5 }, (_, i) => ({ level: 'info', message: `n${i}` }))
    const back = parsed({ notifications })
    expect(back.notifications).toHaveLength(MAX_NOTIFICATIONS)
    expect(back.notifications[0]?.message).toBe('n5')
  })

  const bad: Array<[string, unknown, RegExp, ReadonlyArray<string | number>]> = [
    ['not an object', 'state', /"state" expects an object, got string/, []],
    ['an array', [], /"state" expects an object, got array/, []],
    ['a collection of the wrong kind', { agents: 5 }, /expects agents to be an object or \[key, view\] pairs, got number/, ['agents']],
    ['a view with a bad status', { tasks: { t: { id: 't', status: 'paused', progress: 0 } } }, /"state" expects tasks\.t\.status to be one of routed, running, completed, failed, got "paused"/, ['tasks', 't', 'status']],
    ['a view missing a field', { chats: { c: { id: 'c', participants: [] } } }, /"state" expects chats\.c\.messages to be a finite number, got nothing/, ['chats', 'c', 'messages']],
    ['an id that is not its key', { sessions: { s: { id: 'other', status: 'ok' } } }, /"state" expects sessions\.s\.id to be "s", got "other"/, ['sessions', 's', 'id']],
    ['a bad pair', { agents: [['a', { name: 'a' }], ['b']] }, /expects agents\[1\] to be a \[key, view\] pair/, ['agents', 1]],
    ['a key given twice', { agents: [['a', { name: 'a' }], ['a', { name: 'a' }]] }, /expects agents\.a only once/, ['agents', 'a']],
    ['a progress above 100', { tasks: { t: { id: 't', status: 'running', progress: 101 } } }, /tasks\.t\.progress to be at most 100, got 101/, ['tasks', 't', 'progress']],
    ['a bad singleton', { knowledge: { nodes: '7', edges: 0 } }, /knowledge\.nodes to be a finite number, got string/, ['knowledge', 'nodes']],
    ['a bad list entry', { decisions: [{ taskId: 't' }] }, /decisions\[0\]\.agent to be a string, got nothing/, ['decisions', 0, 'agent']],
  ]

  for (const [name, value, message, path] of bad) {
    it(`rejects ${name} with a typed error`, () => {
      const result = parseState(value)
      expect(result.ok).toBe(false)
      if (result.ok) return
      expect(result.error).toBeInstanceOf(ProtocolError)
      expect(result.error.code).toBe('bad_request')
      expect(result.error.message).toMatch(message)
      expect(result.error.path).toEqual(path)
    })
  }

  it('never throws, even on a value whose getters throw', () => {
    const hostile = new Proxy({}, { ownKeys: () => { throw new Error('no') }, get: () => { throw new Error('no') } })
    const result = parseState({ agents: hostile })
    expect(result.ok).toBe(false)
    for (const value of [null, undefined, 0, NaN, Symbol('s'), () => 1, new Date(0)]) expect(() => parseState(value)).not.toThrow()
  })

  it('null-prototype records serialize with JSON.stringify like plain objects', () => {
    const state = reduce(initialState(), ev('agent.status', { name: 'a', status: 'busy' }))
    expect(JSON.parse(JSON.stringify(state)).agents).toEqual({ a: { name: 'a', status: 'busy' } })
  })
})

describe('replaceChannel', () => {
  const status = (name: string, s: 'available' | 'busy' | 'offline') => ev('agent.status', { name, status: s })

  it('drops what the channel had and no longer has, takes what is new, keeps equal objects', () => {
    const previous = fold([status('a', 'busy'), status('b', 'busy'), status('gone', 'busy')])
    const other = fold([status('x', 'offline')])
    const store = fold([status('x', 'offline'), status('a', 'busy'), status('b', 'busy'), status('gone', 'busy')])
    const next = fold([status('a', 'busy'), status('b', 'available'), status('new', 'available')])

    const merged = replaceChannel(store, previous, next)
    expect(Object.keys(merged.agents).sort()).toEqual(['a', 'b', 'new', 'x'])
    expect(merged.agents['a']).toBe(store.agents['a'])
    expect(merged.agents['x']).toBe(store.agents['x'])
    expect(merged.agents['b']).toBe(next.agents['b'])
    expect(merged.agents['new']).toBe(next.agents['new'])
    expect(merged.tasks).toBe(store.tasks)
    expect(Object.getPrototypeOf(merged.agents)).toBeNull()
    expect(other.agents['x']).toEqual(merged.agents['x'])
  })

  it('returns the store itself when the snapshot changes nothing', () => {
    const events = [status('a', 'busy'), ev('task.progress', { taskId: 't', progress: 3 }), ev('system.notification', { level: 'info', message: 'm' })]
    const store = fold(events)
    expect(replaceChannel(store, fold(events), fold(events))).toBe(store)
    // A first snapshot (no previous) equal to what the store has changes nothing either.
    expect(replaceChannel(store, undefined, fold(events))).toBe(store)
  })

  it('replaces the channel entries of a list and keeps the others', () => {
    const n = (message: string) => ev('system.notification', { level: 'info', message })
    const previous = fold([n('c1'), n('c2')])
    const store = fold([n('g1'), n('c1'), n('g2'), n('c2')])
    const next = fold([n('c1'), n('c2'), n('c3')])
    const merged = replaceChannel(store, previous, next)
    expect(merged.notifications.map((x) => x.message)).toEqual(['g1', 'g2', 'c1', 'c2', 'c3'])
    expect(merged.notifications[2]).toBe(store.notifications[1])
  })

  it('does not add twice an entry the store already has from elsewhere', () => {
    const n = ev('system.notification', { level: 'info', message: 'both', timestamp: 1 })
    const store = fold([n])
    const merged = replaceChannel(store, undefined, fold([n]))
    expect(merged).toBe(store)
  })

  it('takes a singleton only when the channel says something about it', () => {
    const store = fold([ev('knowledge.updated', { nodes: 7, edges: 1 }), ev('dashboard.update', { agents: { total: 1 } })])
    // A channel that never saw knowledge or dashboard events leaves them alone.
    const quiet = replaceChannel(store, undefined, fold([status('a', 'busy')]))
    expect(quiet.knowledge).toBe(store.knowledge)
    expect(quiet.dashboard).toBe(store.dashboard)
    // The knowledge channel's newer counts win.
    const previous = fold([ev('knowledge.updated', { nodes: 7, edges: 1 })])
    const next = fold([ev('knowledge.updated', { nodes: 9, edges: 4 })])
    expect(replaceChannel(store, previous, next).knowledge).toEqual({ nodes: 9, edges: 4 })
  })

  it('a rejoin snapshot restores a request exactly as the events built it', () => {
    const events: AgentEvent[] = [
      ev('request.started', { requestId: 'r', query: 'q' }),
      ev('step.progress', { requestId: 'r', agent: 'a', step: 1, status: 'completed' }),
      ev('request.question', { requestId: 'r', questionId: 'q', question: '?' }),
    ]
    const server = fold(events)
    const wire = parsed(JSON.parse(JSON.stringify(serializeState(server))))
    const merged = replaceChannel(initialState(), undefined, wire)
    expect(merged.requests['r']).toEqual(server.requests['r'])
    expect(merged.requests['r']?.status).toBe('waiting')
  })
})
