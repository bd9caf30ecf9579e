import { describe, expect, it } from 'vitest'
import { checkLiveness, heartbeatPolicy, livenessDeadline } from '../../src/client/heartbeat'
import { createPositions } from '../../src/client/positions'

// Pure modules, imported by path: no public specifier exposes them.

describe('positions (B7)', () => {
  it('delivers in order, drops repeats, flags gaps, foreign epochs and backwards jumps', () => {
    const p = createPositions()
    expect(p.judge('agent:a', 'e1', 2)).toBe('gap') // no snapshot and not the start of the log
    expect(p.judge('agent:a', 'e1', 1)).toBe('deliver')
    expect(p.judge('agent:a', 'e1', 2)).toBe('deliver')
    expect(p.judge('agent:a', 'e1', 2)).toBe('duplicate')
    expect(p.judge('agent:a', 'e1', 4)).toBe('gap')
    expect(p.judge('agent:a', 'e2', 3)).toBe('gap')
    expect(p.judge('agent:a', 'e1', 1)).toBe('backwards')
    expect(p.get('agent:a')).toEqual({ channel: 'agent:a', epoch: 'e1', seq: 2 })
  })

  it('after a snapshot, lower seqs are overlap duplicates until the next in-order event', () => {
    const p = createPositions()
    p.reset('task:1', 'e1', 10)
    expect(p.judge('task:1', 'e1', 8)).toBe('duplicate')
    expect(p.judge('task:1', 'e1', 11)).toBe('deliver')
    expect(p.judge('task:1', 'e1', 9)).toBe('backwards')
  })

  it('after a subscribe is answered, its replay may repeat what arrived live meanwhile: duplicates, not a log going backwards', () => {
    // A channel followed through `task:*` is also subscribed on its own from seq 6. Before the
    // answer, 7 and 8 arrive live through the pattern; the answer's replay then starts at 7.
    const p = createPositions()
    p.reset('task:t', 'e2', 6)
    expect(p.judge('task:t', 'e2', 7)).toBe('deliver')
    expect(p.judge('task:t', 'e2', 8)).toBe('deliver')
    p.answered('task:t')
    expect(p.judge('task:t', 'e2', 7)).toBe('duplicate')
    expect(p.judge('task:t', 'e2', 8)).toBe('duplicate')
    expect(p.judge('task:t', 'e2', 9)).toBe('deliver')
    // Past the overlap, a lower seq is the log going backwards again.
    expect(p.judge('task:t', 'e2', 7)).toBe('backwards')
    // The pattern's answer covers its channels the same way.
    p.answered('task:*')
    expect(p.judge('task:t', 'e2', 8)).toBe('duplicate')
  })

  it('asks once per gap until the answer comes', () => {
    const p = createPositions()
    p.reset('agent:a', 'e1', 3)
    expect(p.markRecovering('agent:a')).toBe(true)
    expect(p.markRecovering('agent:a')).toBe(false)
    p.answered('agent:*')
    expect(p.markRecovering('agent:a')).toBe(true)
  })

  it('resumes a pattern from every concrete channel it covers', () => {
    const p = createPositions()
    p.reset('agent:a', 'e1', 3)
    p.reset('agent:b', 'e1', 5)
    p.reset('task:1', 'e1', 1)
    expect(p.resumeFor('agent:*')).toEqual([
      { channel: 'agent:a', epoch: 'e1', seq: 3 },
      { channel: 'agent:b', epoch: 'e1', seq: 5 },
    ])
  })
})

describe('liveness deadlines (N3, C4)', () => {
  const policy = heartbeatPolicy({ intervalMs: 250, timeoutMs: 250 })

  it('pings after H of silence and declares the link dead at H+T', () => {
    expect(checkLiveness(1100, { lastReceived: 1000, pingSentAt: undefined }, policy)).toEqual({ verdict: 'ok', nextCheckAt: 1250 })
    expect(checkLiveness(1250, { lastReceived: 1000, pingSentAt: undefined }, policy)).toEqual({ verdict: 'ping', nextCheckAt: 1500 })
    expect(checkLiveness(1300, { lastReceived: 1000, pingSentAt: 1250 }, policy)).toEqual({ verdict: 'ok', nextCheckAt: 1500 })
    expect(checkLiveness(1500, { lastReceived: 1000, pingSentAt: 1250 }, policy)).toMatchObject({ verdict: 'dead', silentMs: 500 })
  })

  it('however long timers slept, silence alone asks for a ping; dead only T after that ping went unanswered', () => {
    expect(checkLiveness(1000 + 600_000, { lastReceived: 1000, pingSentAt: undefined }, policy)).toEqual({ verdict: 'ping', nextCheckAt: 601_250 })
    expect(checkLiveness(1000 + 600_100, { lastReceived: 1000, pingSentAt: 601_000 }, policy)).toEqual({ verdict: 'ok', nextCheckAt: 601_250 })
    expect(checkLiveness(1000 + 600_250, { lastReceived: 1000, pingSentAt: 601_000 }, policy).verdict).toBe('dead')
  })

  it('a probe asks for an answer within T of itself', () => {
    expect(livenessDeadline({ lastReceived: 1000, pingSentAt: 1010 }, policy)).toBe(1260)
  })

  it('defaults are 25 s and 10 s', () => {
    expect(heartbeatPolicy()).toEqual({ intervalMs: 25_000, timeoutMs: 10_000 })
  })
})
