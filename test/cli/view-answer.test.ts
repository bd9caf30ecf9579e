import { describe, expect, it } from 'vitest'
import { initialState, reduce, type AgentEvent } from 'agentwire/protocol'
import { renderView } from '../../src/cli/view'

/** The terminal view shows a request's answer as it streams: the newest text, its end when long. */

const R = { requestId: 'r1' }
const fold = (events: AgentEvent[]) => events.reduce(reduce, initialState())

describe('renderView: a streaming answer', () => {
  it('shows the text so far with a cursor while open, and only its end when it is longer than the line', () => {
    const open = fold([
      { type: 'request.started', payload: { ...R, query: 'why?' } },
      { type: 'message.started', payload: { ...R, messageId: 'm1' } },
      { type: 'message.delta', payload: { ...R, messageId: 'm1', delta: 'Because the\nbuild ' } },
    ])
    expect(renderView(open, 'open', 80)).toContain('    › Because the build▍')
    const long = reduce(open, { type: 'message.delta', payload: { ...R, messageId: 'm1', delta: 'x'.repeat(200) + ' END' } })
    const line = renderView(long, 'open', 80).split('\n').find((l) => l.startsWith('    ›'))!
    expect(line.endsWith('x END▍')).toBe(true)
    expect(line.length).toBeLessThanOrEqual(80)
    const done = reduce(long, { type: 'message.ended', payload: { ...R, messageId: 'm1' } })
    expect(renderView(done, 'open', 80)).not.toContain('▍')
  })
})
