import { describe, expect, it } from 'vitest'
import { initialState, type AgentwireState } from 'agentwire/protocol'
import { renderView } from '../../src/cli/view'

/** A store state as a watcher of the demo sees it mid-run. */
function midRun(): AgentwireState {
  const base = initialState()
  return {
    ...base,
    agents: {
      planner: { name: 'planner', status: 'busy', load: 0.5 },
      coder: { name: 'coder', status: 'available', load: 0 },
      executor: { name: 'executor', status: 'offline', load: 0 },
    },
    tasks: {
      'task-1': { id: 'task-1', status: 'completed', progress: 100, agent: 'coder', name: 'Fix flaky test' },
      'task-2': { id: 'task-2', status: 'failed', progress: 40, agent: 'executor', name: 'Deploy to staging', error: { message: 'tool timed out' } },
      'task-3': { id: 'task-3', status: 'running', progress: 60, agent: 'planner', name: 'Plan the release', step: 'draft plan' },
    },
    requests: {
      'req-1': {
        id: 'req-1',
        status: 'waiting',
        query: 'Summarize the incidents',
        steps: [
          { step: 1, agent: 'planner', status: 'completed' },
          { step: 2, agent: 'researcher', status: 'completed' },
        ],
        questions: [{ questionId: 'q-1', question: 'How detailed should the answer be?', options: ['Keep it short', 'Go into detail'], answered: false }],
        completedAgents: ['planner', 'researcher'],
      },
    },
    knowledge: { nodes: 12, edges: 5 },
    metrics: { system: { scope: 'system', values: { activeTasks: 1, avgLoad: 0.17 } } },
  }
}

describe('renderView', () => {
  it('shows the connection, each agent with its status and a load bar', () => {
    const out = renderView(midRun(), 'open', 100, { title: 'ws://127.0.0.1:8787/ws' })
    const lines = out.split('\n')
    expect(lines[0]).toMatch(/^ws:\/\/127\.0\.0\.1:8787\/ws\s+● open$/)
    const planner = lines.find((l) => l.includes('planner') && l.includes('busy'))
    expect(planner).toBeDefined()
    // Half load: half the cells filled.
    const cells = /([█░]+)/.exec(planner!)![1]!
    expect(cells.split('█').length - 1).toBe(cells.length / 2)
    expect(planner).toMatch(/50%$/)
    expect(lines.find((l) => l.includes('coder') && l.includes('available'))).toMatch(/░+\s+0%$/)
    expect(out).toContain('AGENTS (3)')
    expect(out).toMatch(/executor\s+offline/)
  })

  it('lists running tasks first with their progress, then the finished ones', () => {
    const out = renderView(midRun(), 'open', 120)
    const taskLines = out.split('\n').filter((l) => /^\s+task-\d/.test(l))
    expect(taskLines.map((l) => l.trim().split(/\s+/)[0])).toEqual(['task-3', 'task-2', 'task-1'])
    expect(taskLines[0]).toMatch(/Plan the release.*planner.*█+░+\s+60%\s+running draft plan/)
    expect(taskLines[1]).toMatch(/40%\s+failed\s+tool timed out/)
    expect(taskLines[2]).toMatch(/█{5,}\s+100%\s+done/)
  })

  it('shows open questions with their options, knowledge counts and metrics', () => {
    const out = renderView(midRun(), 'reconnecting', 120)
    expect(out).toContain('◌ reconnecting')
    expect(out).toContain('1 open question')
    expect(out).toMatch(/req-1\s+waiting\s+2 steps done\s+Summarize the incidents/)
    expect(out).toContain('? q-1  How detailed should the answer be?  [Keep it short | Go into detail]')
    expect(out).toContain('12 nodes · 5 edges')
    expect(out).toContain('activeTasks 1 · avgLoad 0.17')
  })

  it('never draws a line wider than the terminal, with or without colours', () => {
    for (const color of [false, true]) {
      for (const width of [48, 60, 80, 200]) {
        const out = renderView(midRun(), 'connecting', width, { color, title: 'x'.repeat(300) })
        for (const line of out.split('\n')) expect(line.replace(/\u001b\[[0-9;]*m/g, '').length).toBeLessThanOrEqual(width)
      }
    }
  })

  it('colours only when asked', () => {
    expect(renderView(midRun(), 'open', 80)).not.toMatch(/\u001b\[/)
    expect(renderView(midRun(), 'open', 80, { color: true })).toMatch(/\u001b\[32m● open/)
  })

  it('says so when nothing arrived yet', () => {
    const out = renderView(initialState(), 'connecting', 80)
    expect(out).toContain('no agents yet')
    expect(out).toContain('no tasks yet')
    expect(out).toContain('no requests yet')
  })

  it('counts no question of a cancelled request as open, and lists none under it', () => {
    const state = midRun()
    const cancelled = { ...state, requests: { 'req-1': { ...state.requests['req-1']!, status: 'cancelled' as const } } }
    expect(renderView(state, 'open', 100)).toContain('1 open question')
    const out = renderView(cancelled, 'open', 100)
    expect(out).not.toContain('open question')
    expect(out).not.toContain('? q-1')
    expect(out).toMatch(/req-1\s+cancelled/)
  })
})
