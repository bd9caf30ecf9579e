import { describe, expect, it } from 'vitest'
import { createStore } from 'agentwire'
import { initialState, reduce, type AgentEvent, type AgentwireState } from 'agentwire/protocol'

/**
 * One entity, several channels: a task channel's `routing.decision` names an agent (its
 * strengths, cost, latency, last decision) whose status and load come from `agent:{name}`.
 * A snapshot of one channel (a resync, a new epoch, a pattern's initial state) replaces that
 * channel's part of the merged store, never what the other channels brought.
 *
 * This is what the browser example test caught about once in six runs: after a gateway
 * restart, a task channel's `initial` snapshot arrived after the agent's last status and
 * overwrote the whole agent with the task channel's view of it, which has no status; the page
 * showed the agent without a status for good.
 */

const status = (name: string, s: 'available' | 'busy' | 'offline', load = 0): AgentEvent => ({ type: 'agent.status', payload: { name, status: s, load } })
const decision = (taskId: string, name: string, timestamp = 1): AgentEvent => ({
  type: 'routing.decision',
  payload: { taskId, agent: { name, strengths: ['plan'], cost: 0.4, latency: 120 }, timestamp },
})
const progress = (taskId: string, p: number): AgentEvent => ({ type: 'task.progress', payload: { taskId, progress: p } })
const fold = (events: AgentEvent[]): AgentwireState => events.reduce(reduce, initialState())

function store() {
  return createStore({ schedule: () => {} })
}

describe('a snapshot replaces its own channel part of an entity other channels hold too', () => {
  it("a task channel's snapshot naming an agent keeps the status agent:{name} gave it", () => {
    const s = store()
    s.apply('agent:planner', status('planner', 'busy', 1))
    s.replace('task:t1', fold([decision('t1', 'planner'), progress('t1', 40)]))
    const agent = s.getSnapshot().agents['planner']
    expect(agent).toMatchObject({ name: 'planner', status: 'busy', load: 1, strengths: ['plan'], cost: 0.4, latency: 120, lastDecision: { taskId: 't1', timestamp: 1 } })
    expect(s.getSnapshot().tasks['t1']).toMatchObject({ progress: 40, agent: 'planner' })
    // The same snapshot again changes nothing, down to the objects.
    const before = s.getSnapshot()
    s.replace('task:t1', fold([decision('t1', 'planner'), progress('t1', 40)]))
    expect(s.getSnapshot()).toBe(before)
  })

  it('the status arrives first as a snapshot, the task as events, then the task channel resyncs: the status stays', () => {
    const s = store()
    s.replace('agent:planner', fold([status('planner', 'available')]))
    s.apply('task:t1', decision('t1', 'planner'))
    s.apply('agent:planner', status('planner', 'busy', 0.5))
    s.replace('task:t1', fold([decision('t1', 'planner'), progress('t1', 10)]))
    expect(s.getSnapshot().agents['planner']).toMatchObject({ status: 'busy', load: 0.5, lastDecision: { taskId: 't1' } })
  })

  it('a task channel emptied by a new epoch removes its task, and only its own fields of an agent another channel holds', () => {
    const s = store()
    s.replace('agent:planner', fold([status('planner', 'busy', 1)]))
    s.replace('task:t1', fold([decision('t1', 'planner')]))
    s.replace('task:t1', initialState()) // the new epoch's log has no event for t1
    const snapshot = s.getSnapshot()
    expect(snapshot.tasks['t1']).toBeUndefined()
    expect(snapshot.agents['planner']).toEqual({ name: 'planner', status: 'busy', load: 1 })
  })

  it("the agent's own channel emptied while a task still names the agent: the agent stays, without a status", () => {
    const s = store()
    s.replace('agent:planner', fold([status('planner', 'busy', 1)]))
    s.replace('task:t1', fold([decision('t1', 'planner')]))
    s.replace('agent:planner', initialState())
    expect(s.getSnapshot().agents['planner']).toEqual({ name: 'planner', strengths: ['plan'], cost: 0.4, latency: 120, lastDecision: { taskId: 't1', timestamp: 1 } })
    // ...and gone once no channel holds it.
    s.replace('task:t1', initialState())
    expect(s.getSnapshot().agents['planner']).toBeUndefined()
  })

  it('two task channels name the same agent: emptying one keeps the fields the other still has', () => {
    const s = store()
    s.replace('agent:planner', fold([status('planner', 'available')]))
    s.replace('task:t1', fold([decision('t1', 'planner', 1)]))
    s.replace('task:t2', fold([decision('t2', 'planner', 2)]))
    s.replace('task:t1', initialState())
    expect(s.getSnapshot().agents['planner']).toMatchObject({ status: 'available', strengths: ['plan'], lastDecision: { taskId: 't2', timestamp: 2 } })
  })

  it('a channel alone still replaces its entities whole: fields its snapshot dropped go', () => {
    const s = store()
    s.apply('agent:a', status('a', 'busy', 1))
    s.apply('agent:b', status('b', 'busy', 1))
    s.replace('agent:a', fold([{ type: 'agent.created', payload: { agentId: 'a', agent: { name: 'a' } } }]))
    expect(s.getSnapshot().agents['a']).toEqual({ name: 'a', details: { name: 'a' } })
    expect(s.getSnapshot().agents['b']).toMatchObject({ status: 'busy' })
  })

  it('whatever the order of events and snapshots, every agent shows the status of its own channel and every task its own channel', () => {
    // A seeded walk: agent and task channels get events, resyncs (a snapshot of their log) and
    // new epochs (their log starts over); the store must end where the channels' logs say.
    let seed = 20_251_122
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
    const names = ['planner', 'coder', 'reviewer']
    const logs = new Map<string, AgentEvent[]>()
    const s = store()
    let tasks = 0
    for (let step = 0; step < 2000; step++) {
      const roll = random()
      let channel: string
      let event: AgentEvent | undefined
      if (roll < 0.3) {
        const name = pick(names)
        channel = `agent:${name}`
        event = status(name, pick(['available', 'busy', 'offline'] as const), Math.round(random() * 10) / 10)
      } else if (roll < 0.45 || tasks === 0) {
        channel = `task:t${++tasks}`
        event = decision(`t${tasks}`, pick(names), step)
      } else if (roll < 0.75) {
        const id = `t${1 + Math.floor(random() * tasks)}`
        channel = `task:${id}`
        if (!logs.has(channel)) continue
        event = progress(id, Math.floor(random() * 100))
      } else {
        channel = pick([...logs.keys()])
        // A resync from the log, or a new epoch: the log starts over (empty, or with one event).
        if (roll > 0.95) logs.set(channel, channel.startsWith('agent:') ? [] : logs.get(channel)!.slice(0, 1))
        s.replace(channel, fold(logs.get(channel)!))
        continue
      }
      const log = logs.get(channel) ?? []
      log.push(event)
      logs.set(channel, log)
      s.apply(channel, event)
    }
    // The truth, channel by channel.
    const merged = s.getSnapshot()
    const expectedAgents = new Set<string>()
    const expectedTasks: Record<string, unknown> = {}
    for (const [channel, log] of logs) {
      const own = fold(log)
      for (const [name, agent] of Object.entries(own.agents)) {
        expectedAgents.add(name)
        if (channel.startsWith('agent:')) expect({ name, status: merged.agents[name]?.status, load: merged.agents[name]?.load }).toEqual({ name, status: agent.status, load: agent.load })
        else expect(merged.agents[name]).toMatchObject({ strengths: agent.strengths, cost: agent.cost, latency: agent.latency })
      }
      Object.assign(expectedTasks, own.tasks)
      if (channel.startsWith('agent:') && Object.keys(own.agents).length === 0) {
        // Emptied by a new epoch: no status left for that agent.
        expect(merged.agents[channel.slice('agent:'.length)]?.status).toBeUndefined()
      }
    }
    expect(Object.keys(merged.agents).sort()).toEqual([...expectedAgents].sort())
    expect(merged.tasks).toEqual(expectedTasks)
  })
})
