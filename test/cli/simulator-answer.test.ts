import { describe, expect, it } from 'vitest'
import { initialState, reduce, type AgentEvent } from 'agentwire/protocol'
import { startSimulator, type SimulatorClock } from 'agentwire/server'

/** The demo's simulated requests stream their answer in the last step, as an agent thinking aloud. */

function fakeClock(start = 1_700_000_000_000) {
  let now = start
  let nextId = 1
  const timers = new Map<number, { at: number; fn: () => void }>()
  const clock = {
    now: () => now,
    setTimeout(fn: () => void, ms: number) {
      const id = nextId++
      timers.set(id, { at: now + ms, fn })
      return id
    },
    clearTimeout: (handle: unknown) => void timers.delete(handle as number),
  }
  const advance = (ms: number) => {
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
  return { clock, advance }
}

describe('the simulated fleet streams each answer', () => {
  it('message.started, deltas during the last step, message.ended just before request.completed; the store assembles the text', () => {
    const { clock, advance } = fakeClock()
    const log: Array<{ channel: string; event: AgentEvent }> = []
    const sim = startSimulator((channel, event) => void log.push({ channel, event }), { clock: clock as unknown as SimulatorClock, seed: 3, requestEveryMs: 0, autoAnswerMs: 1 })
    expect(sim.handleCommand({ type: 'start', requestId: 'r1', query: 'plan the launch' })).toEqual({ ok: true })
    advance(120_000)
    sim.stop()

    const r1 = log.filter((p) => p.channel === 'request:r1').map((p) => p.event)
    const types = r1.map((e) => e.type)
    expect(types.filter((t) => t === 'message.delta').length).toBeGreaterThan(3)
    expect(types.indexOf('message.started')).toBeGreaterThan(types.lastIndexOf('request.feedback'))
    expect(types.slice(-2)).toEqual(['message.ended', 'request.completed'])
    // Some of it streams while the last step still runs, before that step completes.
    const lastStepDone = r1.findIndex((e) => e.type === 'step.progress' && e.payload.step === 4 && e.payload.status === 'completed')
    expect(types.indexOf('message.delta')).toBeLessThan(lastStepDone)
    const state = r1.reduce(reduce, initialState())
    expect(state.requests.r1?.messages).toEqual([
      { kind: 'text', id: 'r1-answer', role: 'assistant', agent: 'reviewer', status: 'done', text: 'Here is what the fleet found for “plan the launch”: the plan, the sources and a reviewed draft are ready.' },
    ])
  })
})
