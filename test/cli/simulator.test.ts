import { describe, expect, it } from 'vitest'
import { AgentEventSchema, type AgentEvent, type EventOf, type EventType } from 'agentwire/protocol'
import { startSimulator, type SimulatorClock } from 'agentwire/server'

/** A clock that only moves when the test says so. */
function fakeClock(start = 1_700_000_000_000) {
  let now = start
  let nextId = 1
  const timers = new Map<number, { at: number; fn: () => void }>()
  const clock: SimulatorClock = {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++
      timers.set(id, { at: now + ms, fn })
      return id
    },
    clearTimeout(handle) {
      timers.delete(handle as number)
    },
  }
  /** Advances time, firing due timers in order (bounded: a runaway loop fails the test). */
  function advance(ms: number) {
    const until = now + ms
    for (let guard = 0; guard < 100_000; guard++) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0]
      if (!due) break
      timers.delete(due[0])
      now = due[1].at
      due[1].fn()
    }
    now = until
  }
  return { clock, advance, pending: () => timers.size }
}

interface Published { channel: string; event: AgentEvent }

function record() {
  const log: Published[] = []
  const publish = (channel: string, event: AgentEvent) => void log.push({ channel, event })
  const of = <T extends EventType>(type: T) =>
    log.filter((p) => p.event.type === type).map((p) => ({ channel: p.channel, payload: (p.event as EventOf<T>).payload as EventOf<T>['payload'] }))
  return { log, publish, of }
}

describe('the simulated fleet', () => {
  it('publishes only valid canonical events, each on its entity channel', () => {
    const { clock, advance } = fakeClock()
    const out = record()
    const sim = startSimulator(out.publish, { clock, seed: 7, autoAnswerMs: 5000 })
    advance(60_000)
    sim.stop()

    expect(out.log.length).toBeGreaterThan(200)
    for (const { event } of out.log) {
      const parsed = AgentEventSchema.safeParse(event)
      expect(parsed.success, `${event.type}: ${parsed.error?.message}`).toBe(true)
    }
    for (const { channel, payload } of out.of('agent.status')) expect(channel).toBe(`agent:${payload.name}`)
    for (const type of ['task.started', 'task.progress', 'task.completed', 'task.failed', 'routing.decision'] as const) {
      for (const { channel, payload } of out.of(type)) expect(channel).toBe(`task:${payload.taskId}`)
    }
    for (const { channel, payload } of out.of('step.progress')) expect(channel).toBe(`request:${payload.requestId}`)
    for (const { channel } of out.of('metrics.snapshot')) expect(channel).toBe('metrics')
    const types = new Set(out.log.map((p) => p.event.type))
    for (const type of ['routing.decision', 'agent.status', 'task.progress', 'metrics.snapshot', 'dashboard.update', 'knowledge.node.added', 'chat.message.created', 'system.notification']) {
      expect(types, type).toContain(type)
    }
  })

  it('routes tasks to agents and takes them to completion with rising progress', () => {
    const { clock, advance } = fakeClock()
    const out = record()
    const sim = startSimulator(out.publish, { clock, seed: 42, failureRate: 0, outages: false, requestEveryMs: 0 })
    advance(30_000)
    sim.stop()

    const completed = out.of('task.completed')
    expect(completed.length).toBeGreaterThan(3)
    for (const { payload } of completed) {
      const id = payload.taskId
      const decision = out.of('routing.decision').find((d) => d.payload.taskId === id)
      const started = out.of('task.started').find((d) => d.payload.taskId === id)
      expect(decision?.payload.agent.name).toBe(started?.payload.agent)
      const progress = out.of('task.progress').filter((p) => p.payload.taskId === id).map((p) => p.payload.progress)
      expect(progress.at(-1)).toBe(100)
      expect([...progress].sort((a, b) => a - b)).toEqual(progress)
    }
    // The agent that got a task shows as busy with load, and is available again when idle.
    const statuses = out.of('agent.status').map((s) => s.payload)
    expect(statuses.some((s) => s.status === 'busy' && (s.load ?? 0) > 0)).toBe(true)
    expect(out.of('task.failed')).toHaveLength(0)
  })

  it('fails some tasks and says so in a notification', () => {
    const { clock, advance } = fakeClock()
    const out = record()
    const sim = startSimulator(out.publish, { clock, seed: 3, failureRate: 1, requestEveryMs: 0 })
    advance(20_000)
    sim.stop()
    const failed = out.of('task.failed')
    expect(failed.length).toBeGreaterThan(0)
    expect(out.of('system.notification').some((n) => n.payload.level === 'warning' && n.payload.message === failed[0]?.payload.error.message)).toBe(true)
  })

  it("says in a failed task's message the progress its bar shows", () => {
    const { clock, advance } = fakeClock()
    const out = record()
    const sim = startSimulator(out.publish, { clock, seed: 3, failureRate: 1, requestEveryMs: 0 })
    advance(60_000)
    sim.stop()
    const failed = out.of('task.failed')
    expect(failed.length).toBeGreaterThan(2)
    for (const { payload } of failed) {
      const last = out.of('task.progress').filter((p) => p.payload.taskId === payload.taskId).at(-1)?.payload.progress ?? 0
      expect(payload.error.message).toContain(`gave up at ${last}%`)
    }
  })

  it('numbers its ids within its run, so a second run on the same broker shares none', () => {
    const ids = (start: number) => {
      const { clock, advance } = fakeClock(start)
      const out = record()
      const sim = startSimulator(out.publish, { clock, seed: 7, requestEveryMs: 1000, autoAnswerMs: 500 })
      advance(30_000)
      sim.stop()
      const taskIds = out.of('task.started').map((t) => t.payload.taskId)
      const requestIds = out.of('request.started').map((r) => r.payload.requestId)
      const nodeIds = out.of('knowledge.node.added').map((n) => n.payload.nodeId)
      expect(taskIds.length * requestIds.length * nodeIds.length).toBeGreaterThan(0)
      return [...taskIds, ...requestIds, ...nodeIds]
    }
    // The same seed, restarted a minute later: the same story under other ids.
    const first = ids(1_700_000_000_000)
    const second = ids(1_700_000_060_000)
    expect(first.filter((id) => second.includes(id))).toEqual([])
    expect(first[0]).toMatch(/^task-[0-9a-z]{4}-1$/)
    const { clock, advance } = fakeClock()
    const out = record()
    const sim = startSimulator(out.publish, { clock, seed: 7, runId: 'demo2', requestEveryMs: 1000 })
    advance(5000)
    sim.stop()
    expect(out.of('request.started')[0]?.payload.requestId).toBe('req-demo2-1')
  })

  it('keeps the metrics in step with the tasks: each snapshot counts what was published before it', () => {
    const { clock, advance } = fakeClock()
    const out = record()
    const sim = startSimulator(out.publish, { clock, seed: 9, failureRate: 0.3, requestEveryMs: 0 })
    advance(60_000)
    sim.stop()
    let started = 0
    let completed = 0
    let failed = 0
    let snapshots = 0
    for (const { event } of out.log) {
      if (event.type === 'task.started') started++
      if (event.type === 'task.completed') completed++
      if (event.type === 'task.failed') failed++
      if (event.type !== 'metrics.snapshot') continue
      snapshots++
      expect(event.payload.values).toMatchObject({ completedTasks: completed, failedTasks: failed, activeTasks: started - completed - failed })
    }
    // Every start and end was followed by a snapshot in the same tick.
    expect(snapshots).toBeGreaterThan(started)
    const last = out.log.filter((p) => p.event.type === 'metrics.snapshot').at(-1)!.event
    expect(last.type === 'metrics.snapshot' && last.payload.values['completedTasks']).toBe(completed)
    const summaries = out.of('system.notification').filter((n) => /completed so far/.test(n.payload.message))
    for (const n of summaries) expect(n.payload.message).not.toMatch(/^1 tasks/)
  })

  it('wraps up on stop: running tasks fail and open requests are cancelled, once every publish has settled', async () => {
    const { clock, advance } = fakeClock()
    const log: Published[] = []
    // A broker that publishes asynchronously, like Redis.
    const publish = (channel: string, event: AgentEvent) => new Promise<void>((resolve) => setTimeout(() => (log.push({ channel, event }), resolve()), 5))
    const sim = startSimulator(publish, { clock, seed: 4, failureRate: 0, requestEveryMs: 0, autoAnswerMs: 0 })
    sim.handleCommand({ type: 'start', requestId: 'r9', query: 'q' })
    advance(3000)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const started = log.filter((p) => p.event.type === 'task.started').map((p) => p.channel)
    const ended = new Set(log.filter((p) => p.event.type === 'task.completed').map((p) => p.channel))
    const running = started.filter((c) => !ended.has(c))
    expect(running.length).toBeGreaterThan(0)

    await sim.wrapUp('the demo stopped')
    expect(sim.running).toBe(false)
    for (const channel of running) {
      const last = log.filter((p) => p.channel === channel).at(-1)!.event
      expect(last.type === 'task.failed' && last.payload.error.message).toMatch(/^the demo stopped at \d+%$/)
    }
    expect(log.filter((p) => p.channel === 'request:r9').at(-1)!.event).toEqual({ type: 'request.cancelled', payload: { requestId: 'r9', reason: 'the demo stopped' } })
    const count = log.length
    advance(10_000)
    await sim.wrapUp()
    expect(log.length).toBe(count)
  })

  it('runs a request step by step, asks a question, and completes it only after feedback', () => {
    const { clock, advance } = fakeClock()
    const out = record()
    const sim = startSimulator(out.publish, { clock, seed: 11, requestEveryMs: 0, autoAnswerMs: 0 })
    expect(sim.handleCommand({ type: 'start', requestId: 'r1', query: 'plan the launch' })).toEqual({ ok: true })
    expect(sim.handleCommand({ type: 'start', requestId: 'r1', query: 'again' })).toMatchObject({ ok: false, code: 'conflict' })
    advance(20_000)

    const question = out.of('request.question').find((q) => q.payload.requestId === 'r1')
    expect(question?.channel).toBe('request:r1')
    expect(out.of('request.completed')).toHaveLength(0)
    advance(60_000)
    expect(out.of('request.completed')).toHaveLength(0) // it waits, however long

    const questionId = question!.payload.questionId
    expect(sim.handleCommand({ type: 'feedback', requestId: 'r1', questionId: 'nope', answer: 'x' })).toMatchObject({ ok: false, code: 'not_found' })
    expect(sim.handleCommand({ type: 'feedback', requestId: 'r1', questionId, answer: 'Keep it short' })).toEqual({ ok: true })
    advance(20_000)
    sim.stop()

    const r1 = out.log.filter((p) => p.channel === 'request:r1').map((p) => p.event.type)
    expect(r1[0]).toBe('request.started')
    expect(r1).toContain('request.feedback')
    expect(r1.at(-1)).toBe('request.completed')
    expect(r1.indexOf('request.question')).toBeLessThan(r1.indexOf('request.feedback'))
    const steps = out.of('step.progress').filter((s) => s.payload.requestId === 'r1')
    expect(steps.filter((s) => s.payload.status === 'completed').map((s) => s.payload.step)).toEqual([1, 2, 3, 4])
    expect(out.of('agent.completed').filter((s) => s.payload.requestId === 'r1')).toHaveLength(4)
  })

  it('stops a request on cancel', () => {
    const { clock, advance } = fakeClock()
    const out = record()
    const sim = startSimulator(out.publish, { clock, seed: 5, requestEveryMs: 0 })
    sim.handleCommand({ type: 'start', requestId: 'r2', query: 'q' })
    advance(1000)
    expect(sim.handleCommand({ type: 'cancel', requestId: 'r2', reason: 'changed my mind' })).toEqual({ ok: true })
    const before = out.log.length
    advance(30_000)
    sim.stop()
    expect(out.of('request.cancelled')).toEqual([{ channel: 'request:r2', payload: { requestId: 'r2', reason: 'changed my mind' } }])
    expect(out.log.slice(before).filter((p) => p.channel === 'request:r2')).toHaveLength(0)
    expect(sim.handleCommand({ type: 'cancel', requestId: 'r2' })).toMatchObject({ ok: false, code: 'not_found' })
  })

  it('answers a forgotten question by itself when autoAnswerMs is set', () => {
    const { clock, advance } = fakeClock()
    const out = record()
    const sim = startSimulator(out.publish, { clock, seed: 9, requestEveryMs: 1000, autoAnswerMs: 5000 })
    advance(40_000)
    sim.stop()
    const feedback = out.of('request.feedback')
    expect(feedback.length).toBeGreaterThan(0)
    expect(feedback[0]?.payload).toMatchObject({ answer: 'Keep it short', userId: 'simulator' })
    expect(out.of('request.completed').length).toBeGreaterThan(0)
  })

  it('gives the same story for the same seed', () => {
    const run = () => {
      const { clock, advance } = fakeClock()
      const out = record()
      const sim = startSimulator(out.publish, { clock, seed: 1234 })
      advance(10_000)
      sim.stop()
      return out.log
    }
    expect(run()).toEqual(run())
  })

  it('leaves no timer after stop, and publishes nothing more', () => {
    const { clock, advance, pending } = fakeClock()
    const out = record()
    const sim = startSimulator({ publish: out.publish }, { clock, seed: 1 })
    advance(2000)
    expect(pending()).toBe(1)
    sim.stop()
    sim.stop()
    expect(sim.running).toBe(false)
    expect(pending()).toBe(0)
    const count = out.log.length
    advance(10_000)
    expect(out.log.length).toBe(count)
  })

  it('answers the gateway commands: typed errors for unknown requests, the default for acks', async () => {
    const { clock } = fakeClock()
    const out = record()
    const sim = startSimulator(out.publish, { clock, seed: 2, requestEveryMs: 0 })
    const context = { defaultHandler: async () => 'default' }
    await expect(sim.onCommand({ type: 'start', requestId: 'r9', query: 'q' }, context)).resolves.toBeUndefined()
    await expect(sim.onCommand({ type: 'start', requestId: 'r9', query: 'q' }, context)).rejects.toMatchObject({ name: 'AgentwireError', code: 'conflict' })
    await expect(sim.onCommand({ type: 'feedback', requestId: 'nobody', questionId: 'q', answer: 1 }, context)).rejects.toMatchObject({ code: 'not_found' })
    await expect(sim.onCommand({ type: 'ack' }, context)).resolves.toBe('default')
    sim.stop()
    expect(out.of('request.started')).toEqual([{ channel: 'request:r9', payload: expect.objectContaining({ requestId: 'r9', query: 'q' }) }])
  })

  it('reports a failed publish instead of throwing', async () => {
    const { clock, advance } = fakeClock()
    const errors: unknown[] = []
    const sim = startSimulator(() => Promise.reject(new Error('broker down')), { clock, seed: 1, onError: (e) => errors.push(e) })
    advance(1000)
    sim.stop()
    await new Promise((resolve) => setImmediate(resolve))
    expect(errors.length).toBeGreaterThan(0)
    expect((errors[0] as Error).message).toBe('broker down')
  })
})
