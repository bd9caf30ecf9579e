import { describe, expect, it } from 'vitest'
import {
  MAX_DECISIONS,
  MAX_NOTIFICATIONS,
  initialState,
  reduce,
  type AgentEvent,
  type AgentwireState,
} from 'agentwire/protocol'
import { ev, fold } from './fold'

interface Case {
  readonly name: string
  readonly events: readonly AgentEvent[]
  readonly expect: (state: AgentwireState) => void
}

const decision = (taskId: string, name: string, timestamp = 1) =>
  ev('routing.decision', { taskId, agent: { name, strengths: ['code'], cost: 0.2, latency: 120 }, timestamp })

/** One row per seed message kind: the events, then what a dashboard should show. */
const table: Record<string, Case[]> = {
  routing: [
    {
      name: 'a routing decision describes the agent, routes the task and is listed',
      events: [decision('t1', 'planner', 5)],
      expect: (s) => {
        expect(s.agents['planner']).toEqual({ name: 'planner', strengths: ['code'], cost: 0.2, latency: 120, lastDecision: { taskId: 't1', timestamp: 5 } })
        expect(s.tasks['t1']).toEqual({ id: 't1', status: 'routed', progress: 0, agent: 'planner' })
        expect(s.decisions).toEqual([{ taskId: 't1', agent: 'planner', cost: 0.2, latency: 120, timestamp: 5 }])
      },
    },
    {
      name: 'agent status sets status and load and keeps what routing said',
      events: [decision('t1', 'planner'), ev('agent.status', { name: 'planner', status: 'busy', load: 0.7 })],
      expect: (s) => expect(s.agents['planner']).toMatchObject({ name: 'planner', status: 'busy', load: 0.7, cost: 0.2 }),
    },
    {
      name: 'a re-route of a running task changes its agent, not its status',
      events: [decision('t1', 'a'), ev('task.progress', { taskId: 't1', progress: 30 }), decision('t1', 'b', 2)],
      expect: (s) => expect(s.tasks['t1']).toEqual({ id: 't1', status: 'running', progress: 30, agent: 'b' }),
    },
    {
      name: 'a decision for a finished task leaves the task alone',
      events: [ev('task.completed', { taskId: 't1' }), decision('t1', 'late')],
      expect: (s) => expect(s.tasks['t1']).toEqual({ id: 't1', status: 'completed', progress: 100 }),
    },
  ],
  webgui: [
    {
      name: 'session status is a full report that replaces the previous one',
      events: [
        ev('session.status', { sessionId: 's1', status: 'loading', progress: 10, message: 'reading' }),
        ev('session.status', { sessionId: 's1', status: 'ready', timestamp: '2024-01-01T00:00:00Z' }),
      ],
      expect: (s) => expect(s.sessions['s1']).toEqual({ id: 's1', status: 'ready', timestamp: '2024-01-01T00:00:00Z' }),
    },
    {
      name: 'notifications are listed oldest first with only the fields they carry',
      events: [
        ev('system.notification', { level: 'info', message: 'one' }),
        ev('system.notification', { level: 'error', message: 'two', title: 'T', sessionId: 's1', userId: 'u', timestamp: 3 }),
      ],
      expect: (s) =>
        expect(s.notifications).toEqual([
          { level: 'info', message: 'one' },
          { level: 'error', message: 'two', title: 'T', sessionId: 's1', userId: 'u', timestamp: 3 },
        ]),
    },
  ],
  rooms: [
    {
      name: 'agent CRUD keeps the record as details and takes its name; delete removes it',
      events: [
        ev('agent.created', { agentId: 'a1', agent: { name: 'Writer', model: 'x' } }),
        ev('agent.updated', { agentId: 'a1', agent: { name: 'Editor', model: 'y' } }),
        ev('agent.created', { agentId: 'a2', agent: { model: 'z' } }),
        ev('agent.created', { agentId: 'a3', agent: {} }),
        ev('agent.deleted', { agentId: 'a3' }),
      ],
      expect: (s) => {
        expect(s.agents['a1']).toEqual({ name: 'Editor', details: { name: 'Editor', model: 'y' } })
        expect(s.agents['a2']).toEqual({ name: 'a2', details: { model: 'z' } })
        expect(Object.keys(s.agents)).toEqual(['a1', 'a2'])
      },
    },
    {
      name: 'chats count messages, keep the last id and treat participants as a set',
      events: [
        ev('chat.created', { chatId: 'c1', chat: { title: 'hi' } }),
        ev('chat.message.created', { chatId: 'c1', messageId: 'm1' }),
        ev('chat.message.created', { chatId: 'c1', messageId: 'm2' }),
        ev('chat.message.created', { chatId: 'c1', messageId: 'm2' }),
        ev('chat.participant.joined', { chatId: 'c1', participantId: 'p1' }),
        ev('chat.participant.joined', { chatId: 'c1', participantId: 'p2' }),
        ev('chat.participant.joined', { chatId: 'c1', participantId: 'p1' }),
        ev('chat.participant.left', { chatId: 'c1', participantId: 'p1' }),
        ev('chat.participant.left', { chatId: 'nope', participantId: 'p1' }),
      ],
      expect: (s) => {
        expect(s.chats['c1']).toEqual({ id: 'c1', chat: { title: 'hi' }, messages: 2, lastMessageId: 'm2', participants: ['p2'] })
        expect(s.chats['nope']).toBeUndefined()
      },
    },
    {
      name: 'chat updated replaces the record, deleted removes the chat',
      events: [
        ev('chat.created', { chatId: 'c1', chat: { title: 'a' } }),
        ev('chat.updated', { chatId: 'c1', chat: { title: 'b' } }),
        ev('chat.created', { chatId: 'c2', chat: {} }),
        ev('chat.deleted', { chatId: 'c2' }),
      ],
      expect: (s) => {
        expect(s.chats['c1']?.chat).toEqual({ title: 'b' })
        expect(Object.keys(s.chats)).toEqual(['c1'])
      },
    },
    {
      name: 'collections are created, updated and deleted',
      events: [
        ev('collection.created', { collectionId: 'k1', metadata: { size: 1 } }),
        ev('collection.updated', { collectionId: 'k1', metadata: { size: 2 } }),
        ev('collection.created', { collectionId: 'k2', metadata: {} }),
        ev('collection.deleted', { collectionId: 'k2' }),
      ],
      expect: (s) => {
        expect(s.collections['k1']).toEqual({ id: 'k1', metadata: { size: 2 } })
        expect(Object.keys(s.collections)).toEqual(['k1'])
      },
    },
  ],
  progress: [
    {
      name: 'a request runs, records steps in order and completes with its result',
      events: [
        ev('request.started', { requestId: 'r1', query: 'plan a trip', context: { user: 'u' } }),
        ev('step.progress', { requestId: 'r1', agent: 'executor', step: 2, status: 'running' }),
        ev('step.progress', { requestId: 'r1', agent: 'executor', step: 1, status: 'running', tool: 'search' }),
        ev('step.progress', { requestId: 'r1', agent: 'executor', step: 1, status: 'completed', result: 'ok' }),
        ev('agent.completed', { requestId: 'r1', agent: 'thought' }),
        ev('agent.completed', { requestId: 'r1', agent: 'thought' }),
        ev('request.completed', { requestId: 'r1', result: { answer: 42 } }),
      ],
      expect: (s) =>
        expect(s.requests['r1']).toEqual({
          id: 'r1',
          status: 'completed',
          query: 'plan a trip',
          context: { user: 'u' },
          steps: [
            { step: 1, agent: 'executor', status: 'completed', tool: 'search', result: 'ok' },
            { step: 2, agent: 'executor', status: 'running' },
          ],
          questions: [],
          completedAgents: ['thought'],
          result: { answer: 42 },
        }),
    },
    {
      name: 'steps with ids are ordered by stepOrder and merged by id',
      events: [
        ev('step.progress', { requestId: 'r1', agent: 'x', step: 0, status: 'running', stepId: 'b', stepOrder: 2 }),
        ev('step.progress', { requestId: 'r1', agent: 'x', step: 0, status: 'running', stepId: 'a', stepOrder: 1 }),
        ev('step.progress', { requestId: 'r1', agent: 'x', step: 0, status: 'failed', stepId: 'b', stepOrder: 2 }),
      ],
      expect: (s) => expect(s.requests['r1']?.steps.map((x) => [x.stepId, x.status])).toEqual([['a', 'running'], ['b', 'failed']]),
    },
    {
      name: 'the same step number of two agents is two steps',
      events: [
        ev('step.progress', { requestId: 'r1', agent: 'thought', step: 1, status: 'completed' }),
        ev('step.progress', { requestId: 'r1', agent: 'executor', step: 1, status: 'running' }),
      ],
      expect: (s) => expect(s.requests['r1']?.steps.map((x) => x.agent)).toEqual(['thought', 'executor']),
    },
    {
      name: 'a question makes the request wait until feedback answers it',
      events: [
        ev('request.started', { requestId: 'r1', query: 'q' }),
        ev('request.question', { requestId: 'r1', questionId: 'q1', question: 'Which city?', options: ['Oslo', 'Rome'] }),
      ],
      expect: (s) => {
        expect(s.requests['r1']?.status).toBe('waiting')
        const answered = reduce(s, ev('request.feedback', { requestId: 'r1', questionId: 'q1', answer: 'Oslo' }))
        expect(answered.requests['r1']?.status).toBe('running')
        expect(answered.requests['r1']?.questions).toEqual([
          { questionId: 'q1', question: 'Which city?', options: ['Oslo', 'Rome'], answered: true, answer: 'Oslo' },
        ])
      },
    },
    {
      name: 'feedback that arrives before its question still answers it',
      events: [
        ev('request.feedback', { requestId: 'r1', questionId: 'q1', answer: 'yes' }),
        ev('request.question', { requestId: 'r1', questionId: 'q1', question: 'Proceed?' }),
      ],
      expect: (s) => {
        expect(s.requests['r1']?.status).toBe('running')
        expect(s.requests['r1']?.questions).toEqual([{ questionId: 'q1', question: 'Proceed?', answered: true, answer: 'yes' }])
      },
    },
    {
      name: 'an error fails the request with what it said',
      events: [ev('request.started', { requestId: 'r1', query: 'q' }), ev('request.error', { requestId: 'r1', agent: 'executor', message: 'boom', step: 3 })],
      expect: (s) => {
        expect(s.requests['r1']?.status).toBe('failed')
        expect(s.requests['r1']?.error).toEqual({ message: 'boom', agent: 'executor', step: 3 })
      },
    },
    {
      name: 'an error without a request becomes an error notification',
      events: [ev('request.error', { agent: 'executor', message: 'lost', step: 1 })],
      expect: (s) => {
        expect(s.notifications).toEqual([{ level: 'error', message: 'lost', details: { agent: 'executor', step: 1 } }])
        expect(Object.keys(s.requests)).toEqual([])
      },
    },
    {
      name: 'a cancelled request keeps the reason',
      events: [ev('request.started', { requestId: 'r1', query: 'q' }), ev('request.cancelled', { requestId: 'r1', reason: 'user' })],
      expect: (s) => expect(s.requests['r1']).toMatchObject({ status: 'cancelled', cancelReason: 'user' }),
    },
  ],
  forge: [
    {
      name: 'a task starts, progresses and completes at 100',
      events: [
        ev('task.started', { taskId: 't1', name: 'index', agent: 'a', description: 'build the index' }),
        ev('task.progress', { taskId: 't1', progress: 40, message: 'halfway', step: 'parse' }),
        ev('task.completed', { taskId: 't1', result: { docs: 3 }, durationMs: 1200 }),
      ],
      expect: (s) =>
        expect(s.tasks['t1']).toEqual({
          id: 't1',
          status: 'completed',
          progress: 100,
          name: 'index',
          agent: 'a',
          description: 'build the index',
          message: 'halfway',
          step: 'parse',
          result: { docs: 3 },
          durationMs: 1200,
        }),
    },
    {
      name: 'a failed task keeps its error and ignores later progress',
      events: [
        ev('task.progress', { taskId: 't1', progress: 10 }),
        ev('task.failed', { taskId: 't1', error: { message: 'oom', code: 'E1' } }),
        ev('task.progress', { taskId: 't1', progress: 90 }),
        ev('task.started', { taskId: 't1' }),
        ev('task.completed', { taskId: 't1' }),
      ],
      expect: (s) => expect(s.tasks['t1']).toEqual({ id: 't1', status: 'failed', progress: 10, error: { message: 'oom', code: 'E1' } }),
    },
    {
      name: 'knowledge counts additions and takes absolute counts from an update',
      events: [
        ev('knowledge.node.added', { nodeId: 'n1' }),
        ev('knowledge.node.added', { nodeId: 'n2' }),
        ev('knowledge.edge.added', { source: 'n1', target: 'n2' }),
        ev('knowledge.updated', { nodes: 10 }),
        ev('knowledge.edge.added', { source: 'n1', target: 'n2' }),
      ],
      expect: (s) => expect(s.knowledge).toEqual({ nodes: 10, edges: 2 }),
    },
    {
      name: 'metrics are keyed by scope or scope:name and replaced whole',
      events: [
        ev('metrics.snapshot', { scope: 'system', values: { cpu: 0.5, mem: 0.3 } }),
        ev('metrics.snapshot', { scope: 'system', values: { cpu: 0.6 } }),
        ev('metrics.snapshot', { scope: 'agent', name: 'planner', values: { calls: 3 }, timestamp: 9 }),
      ],
      expect: (s) => {
        expect(s.metrics['system']).toEqual({ scope: 'system', values: { cpu: 0.6 } })
        expect(s.metrics['agent:planner']).toEqual({ scope: 'agent', name: 'planner', values: { calls: 3 }, timestamp: 9 })
      },
    },
    {
      name: 'dashboard updates merge field by field',
      events: [
        ev('dashboard.update', { agents: { total: 3 }, tasks: { running: 1 } }),
        ev('dashboard.update', { tasks: { running: 2 }, timestamp: 7 }),
      ],
      expect: (s) => expect(s.dashboard).toEqual({ agents: { total: 3 }, tasks: { running: 2 }, timestamp: 7 }),
    },
  ],
}

describe('reduce, event by event', () => {
  for (const [seed, cases] of Object.entries(table)) {
    describe(`${seed} seed`, () => {
      for (const c of cases) it(c.name, () => c.expect(fold(c.events)))
    })
  }

  it('starts empty, with null-prototype collections', () => {
    const s = initialState()
    for (const key of ['agents', 'tasks', 'requests', 'sessions', 'chats', 'collections', 'metrics'] as const) {
      expect(Object.getPrototypeOf(s[key])).toBeNull()
      expect(Object.keys(s[key])).toEqual([])
    }
    expect(s.knowledge).toEqual({ nodes: 0, edges: 0 })
    expect(s.dashboard).toBeNull()
  })

  it('leaves the state as it is for an event type it does not know (a newer server)', () => {
    const s = initialState()
    expect(reduce(s, { type: 'agent.teleported', payload: {} } as unknown as AgentEvent)).toBe(s)
  })
})

describe('structural sharing', () => {
  const many = fold(Array.from({ length: 1000 }, (_, i) => ev('agent.status', { name: `agent-${i}`, status: 'available', load: 0 })))
  const withTask = reduce(many, ev('task.started', { taskId: 't1' }))

  it('one agent changing among 1,000 copies only that agent and the agents record', () => {
    const next = reduce(withTask, ev('agent.status', { name: 'agent-500', status: 'busy', load: 0.9 }))
    expect(next).not.toBe(withTask)
    expect(next.agents).not.toBe(withTask.agents)
    expect(next.agents['agent-500']).not.toBe(withTask.agents['agent-500'])
    expect(next.agents['agent-500']).toEqual({ name: 'agent-500', status: 'busy', load: 0.9 })
    let same = 0
    for (const name of Object.keys(withTask.agents)) if (next.agents[name] === withTask.agents[name]) same++
    expect(same).toBe(999)
    for (const key of ['tasks', 'requests', 'sessions', 'chats', 'collections', 'metrics', 'knowledge', 'notifications', 'decisions'] as const) {
      expect(next[key]).toBe(withTask[key])
    }
    expect(Object.getPrototypeOf(next.agents)).toBeNull()
  })

  it('an event that changes nothing returns the very same state', () => {
    const unchanged: AgentEvent[] = [
      ev('agent.status', { name: 'agent-1', status: 'available', load: 0 }),
      ev('agent.deleted', { agentId: 'nobody' }),
      ev('task.started', { taskId: 't1' }),
      ev('chat.participant.left', { chatId: 'none', participantId: 'p' }),
      ev('collection.deleted', { collectionId: 'none' }),
      ev('knowledge.updated', { nodes: 0, edges: 0 }),
      ev('knowledge.updated', {}),
    ]
    for (const event of unchanged) expect(reduce(withTask, event), event.type).toBe(withTask)
  })

  it('a re-sent record equal to the stored one keeps the stored object', () => {
    const s1 = reduce(initialState(), ev('agent.created', { agentId: 'a', agent: { name: 'A', tags: ['x'] } }))
    const s2 = reduce(s1, ev('agent.updated', { agentId: 'a', agent: { name: 'A', tags: ['x'] } }))
    expect(s2).toBe(s1)
    const m1 = reduce(initialState(), ev('metrics.snapshot', { scope: 'system', values: { cpu: 1 } }))
    expect(reduce(m1, ev('metrics.snapshot', { scope: 'system', values: { cpu: 1 } }))).toBe(m1)
    const r1 = fold([ev('step.progress', { requestId: 'r', agent: 'a', step: 1, status: 'running', tool: 't' })])
    expect(reduce(r1, ev('step.progress', { requestId: 'r', agent: 'a', step: 1, status: 'running' }))).toBe(r1)
  })

  it('a request change leaves the other requests and their steps untouched', () => {
    const s = fold([
      ev('step.progress', { requestId: 'r1', agent: 'a', step: 1, status: 'running' }),
      ev('step.progress', { requestId: 'r2', agent: 'a', step: 1, status: 'running' }),
      ev('step.progress', { requestId: 'r2', agent: 'a', step: 2, status: 'running' }),
    ])
    const next = reduce(s, ev('step.progress', { requestId: 'r2', agent: 'a', step: 2, status: 'completed' }))
    expect(next.requests['r1']).toBe(s.requests['r1'])
    expect(next.requests['r2']?.steps[0]).toBe(s.requests['r2']?.steps[0])
    expect(next.requests['r2']?.steps[1]).toEqual({ step: 2, agent: 'a', status: 'completed' })
  })
})

describe('ids that name prototype members are ordinary keys', () => {
  const ids = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype']

  it('agents, tasks, requests, chats, sessions, collections and metrics accept them', () => {
    const events: AgentEvent[] = []
    for (const id of ids) {
      events.push(
        ev('agent.status', { name: id, status: 'busy' }),
        ev('task.progress', { taskId: id, progress: 5 }),
        ev('request.started', { requestId: id, query: id }),
        ev('chat.message.created', { chatId: id, messageId: 'm' }),
        ev('session.status', { sessionId: id, status: 'ok' }),
        ev('collection.created', { collectionId: id, metadata: {} }),
        ev('metrics.snapshot', { scope: 'custom', name: id, values: { n: 1 } }),
      )
    }
    const s = fold(events)
    for (const key of ['agents', 'tasks', 'requests', 'chats', 'sessions', 'collections'] as const) {
      expect(Object.keys(s[key]).sort()).toEqual([...ids].sort())
      expect(Object.getPrototypeOf(s[key])).toBeNull()
    }
    expect(Object.getOwnPropertyDescriptor(s.agents, '__proto__')?.value).toEqual({ name: '__proto__', status: 'busy' })
    expect(s.tasks['constructor']).toEqual({ id: 'constructor', status: 'running', progress: 5 })
    expect(s.metrics['custom:__proto__']).toBeDefined()
    expect(({} as Record<string, unknown>)['status']).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('status')

    const gone = reduce(s, ev('agent.deleted', { agentId: '__proto__' }))
    expect(Object.keys(gone.agents)).not.toContain('__proto__')
    expect(Object.getPrototypeOf(gone.agents)).toBeNull()
  })

  it('an unknown id never reads through to a prototype', () => {
    const s = initialState()
    // `toString` on a plain object would be Object.prototype.toString; here it is nothing.
    expect(s.agents['toString']).toBeUndefined()
    const next = reduce(s, ev('agent.deleted', { agentId: 'toString' }))
    expect(next).toBe(s)
  })
})

describe('bounded lists', () => {
  it(`keeps the newest ${MAX_NOTIFICATIONS} notifications, oldest first`, () => {
    const s = fold(Array.from({ length: MAX_NOTIFICATIONS + 25 }, (_, i) => ev('system.notification', { level: 'info', message: `n${i}` })))
    expect(s.notifications).toHaveLength(MAX_NOTIFICATIONS)
    expect(s.notifications[0]?.message).toBe('n25')
    expect(s.notifications.at(-1)?.message).toBe(`n${MAX_NOTIFICATIONS + 24}`)
  })

  it(`keeps the newest ${MAX_DECISIONS} decisions`, () => {
    const s = fold(Array.from({ length: MAX_DECISIONS * 2 }, (_, i) => decision(`t${i}`, 'a', i)))
    expect(s.decisions).toHaveLength(MAX_DECISIONS)
    expect(s.decisions[0]?.taskId).toBe(`t${MAX_DECISIONS}`)
    expect(Object.keys(s.tasks)).toHaveLength(MAX_DECISIONS * 2)
  })

  it('drops an exact repeat of the newest entry (one event delivered on two channels)', () => {
    const d = decision('t1', 'a', 4)
    const once = reduce(initialState(), d)
    expect(reduce(once, d)).toBe(once)
    const n = ev('system.notification', { level: 'warning', message: 'disk', timestamp: 11 })
    const one = reduce(initialState(), n)
    expect(reduce(one, n)).toBe(one)
    // Without a timestamp two equal notifications may well be two events: both are kept.
    const plain = ev('system.notification', { level: 'info', message: 'tick' })
    expect(fold([plain, plain]).notifications).toHaveLength(2)
  })
})

describe('terminal request states', () => {
  const base = [ev('request.started', { requestId: 'r', query: 'q' }), ev('step.progress', { requestId: 'r', agent: 'a', step: 1, status: 'running' })]
  const terminals: Array<[string, AgentEvent]> = [
    ['completed', ev('request.completed', { requestId: 'r', result: 1 })],
    ['failed', ev('request.error', { requestId: 'r', message: 'x' })],
    ['cancelled', ev('request.cancelled', { requestId: 'r' })],
  ]
  const late: AgentEvent[] = [
    ev('request.completed', { requestId: 'r', result: 2 }),
    ev('request.error', { requestId: 'r', message: 'late' }),
    ev('request.cancelled', { requestId: 'r', reason: 'late' }),
    ev('request.question', { requestId: 'r', questionId: 'q', question: '?' }),
    ev('request.feedback', { requestId: 'r', questionId: 'q', answer: 1 }),
    ev('step.progress', { requestId: 'r', agent: 'a', step: 2, status: 'running' }),
  ]

  for (const [status, end] of terminals) {
    it(`a ${status} request stays ${status} whatever comes later`, () => {
      const done = fold([...base, end])
      expect(done.requests['r']?.status).toBe(status)
      const after = fold(late, done)
      expect(after.requests['r']?.status).toBe(status)
      expect(after.requests['r']?.result).toEqual(done.requests['r']?.result)
      expect(after.requests['r']?.error).toEqual(done.requests['r']?.error)
      expect(after.requests['r']?.questions).toEqual([])
    })
  }

  it('a late step.progress is recorded but does not resurrect a completed request', () => {
    const done = fold([...base, ev('request.completed', { requestId: 'r', result: 1 })])
    const after = reduce(done, ev('step.progress', { requestId: 'r', agent: 'a', step: 1, status: 'completed' }))
    expect(after.requests['r']?.status).toBe('completed')
    expect(after.requests['r']?.steps).toEqual([{ step: 1, agent: 'a', status: 'completed' }])
  })

  it('a question left open when the request completes does not make it wait', () => {
    const s = fold([
      ev('request.question', { requestId: 'r', questionId: 'q', question: '?' }),
      ev('request.completed', { requestId: 'r', result: null }),
      ev('request.feedback', { requestId: 'r', questionId: 'q', answer: 'late' }),
    ])
    expect(s.requests['r']?.status).toBe('completed')
    expect(s.requests['r']?.result).toBeNull()
  })
})
