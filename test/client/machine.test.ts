import { describe, expect, it } from 'vitest'
import { CloseCode } from 'agentwire/protocol'
import { transition, type ConnectionState, type Effect, type MachineContext, type MachineEvent } from '../../src/client/machine'

// The machine is internal: imported by path, since no public specifier exposes it.

const ctx = (over: Partial<MachineContext> = {}): MachineContext => ({
  now: 100_000,
  handshake: true,
  maxRetries: Number.POSITIVE_INFINITY,
  stableAfterMs: 5_000,
  tokenRefreshable: false,
  delay: (attempt) => 1000 * attempt,
  ...over,
})

const idle: ConnectionState = { status: 'idle', generation: 0 }
const connectingSocket: ConnectionState = { status: 'connecting', generation: 1, attempt: 0, phase: 'socket', authRetry: false }
const connectingHello: ConnectionState = { status: 'connecting', generation: 1, attempt: 0, phase: 'handshake', authRetry: false }
const open = (openedAt = 99_000, attempt = 0): ConnectionState => ({ status: 'open', generation: 1, attempt, openedAt })
const reconnecting: ConnectionState = { status: 'reconnecting', generation: 1, attempt: 2, dueAt: 102_000, lastClose: { code: 1006, reason: '' } }
const offline: ConnectionState = { status: 'offline', generation: 1, attempt: 1 }
const closed: ConnectionState = { status: 'closed', generation: 1 }
const unauthorized: ConnectionState = { status: 'unauthorized', generation: 1, lastClose: { code: 4401, reason: '' } }

const types = (effects: readonly Effect[]) => effects.map((e) => e.type)

type Row = [name: string, from: ConnectionState, event: MachineEvent, to: ConnectionState['status'], effects: string[], over?: Partial<MachineContext>]

const table: Row[] = [
  ['connect from idle opens a socket', idle, { type: 'connect' }, 'connecting', ['cancelTimers', 'openSocket', 'armConnectTimeout', 'emitState']],
  ['connect while connecting changes nothing', connectingSocket, { type: 'connect' }, 'connecting', []],
  ['connect from closed reopens (connect() after close())', closed, { type: 'connect' }, 'connecting', ['cancelTimers', 'openSocket', 'armConnectTimeout', 'emitState']],
  ['connect from unauthorized tries again', unauthorized, { type: 'connect' }, 'connecting', ['cancelTimers', 'openSocket', 'armConnectTimeout', 'emitState']],
  ['socket open with a handshake sends hello', connectingSocket, { type: 'socketOpen', generation: 1 }, 'connecting', ['sendHello']],
  ['socket open without a handshake is open', connectingSocket, { type: 'socketOpen', generation: 1 }, 'open', ['cancelTimers', 'startHeartbeat', 'ready', 'emitState'], { handshake: false }],
  ['welcome opens', connectingHello, { type: 'welcome', generation: 1 }, 'open', ['cancelTimers', 'startHeartbeat', 'ready', 'emitState']],
  ['a stale welcome (old generation) changes nothing', connectingHello, { type: 'welcome', generation: 0 }, 'connecting', []],
  ['a stale close changes nothing', open(), { type: 'socketClosed', generation: 0, code: 1006, reason: '' }, 'open', []],
  ['N1: 1012 while open retries with backoff', open(), { type: 'socketClosed', generation: 1, code: 1012, reason: 'restart' }, 'reconnecting', ['cancelTimers', 'stopHeartbeat', 'lost', 'scheduleRetry', 'emitState']],
  ['N2: 1006 while connecting retries with backoff', connectingSocket, { type: 'socketClosed', generation: 1, code: 1006, reason: '' }, 'reconnecting', ['cancelTimers', 'scheduleRetry', 'emitState']],
  ['N3: dead link closes with 4440 and retries', open(), { type: 'dead', generation: 1 }, 'reconnecting', ['cancelTimers', 'stopHeartbeat', 'lost', 'closeSocket', 'scheduleRetry', 'emitState']],
  ['N7: connect timeout closes with 4441 and retries', connectingHello, { type: 'connectTimeout', generation: 1 }, 'reconnecting', ['cancelTimers', 'closeSocket', 'scheduleRetry', 'emitState']],
  ['B1: protocol errors close with 4442 and retry', open(), { type: 'protocolErrors', generation: 1 }, 'reconnecting', ['cancelTimers', 'stopHeartbeat', 'lost', 'closeSocket', 'scheduleRetry', 'emitState']],
  ['a fatal close code stops for good', open(), { type: 'socketClosed', generation: 1, code: 4400, reason: 'bad' }, 'closed', ['cancelTimers', 'stopHeartbeat', 'lost', 'rejectPending', 'terminate', 'emitState']],
  ['4401 with a fixed token is unauthorized, no loop', connectingHello, { type: 'socketClosed', generation: 1, code: 4401, reason: '' }, 'unauthorized', ['cancelTimers', 'rejectPending', 'emitState']],
  ['4401 with a token function asks again once', connectingHello, { type: 'socketClosed', generation: 1, code: 4401, reason: '' }, 'connecting', ['cancelTimers', 'openSocket', 'armConnectTimeout'], { tokenRefreshable: true }],
  ['4401 after the second token is final', { ...connectingHello, authRetry: true } as ConnectionState, { type: 'socketClosed', generation: 1, code: 4401, reason: '' }, 'unauthorized', ['cancelTimers', 'rejectPending', 'emitState'], { tokenRefreshable: true }],
  ['the same token again is unauthorized', { ...connectingSocket, authRetry: true } as ConnectionState, { type: 'tokenUnchanged', generation: 1 }, 'unauthorized', ['cancelTimers', 'closeSocket', 'rejectPending', 'emitState']],
  ['4403 forbidden is unauthorized', open(), { type: 'socketClosed', generation: 1, code: 4403, reason: '' }, 'unauthorized', ['cancelTimers', 'stopHeartbeat', 'lost', 'rejectPending', 'emitState']],
  ['the retry timer opens a new socket', reconnecting, { type: 'retryDue' }, 'connecting', ['cancelTimers', 'openSocket', 'armConnectTimeout', 'emitState']],
  ['C4: online while reconnecting skips the wait', reconnecting, { type: 'online' }, 'connecting', ['cancelTimers', 'openSocket', 'armConnectTimeout', 'emitState']],
  ['C4: wake while reconnecting skips the wait', reconnecting, { type: 'wake' }, 'connecting', ['cancelTimers', 'openSocket', 'armConnectTimeout', 'emitState']],
  ['C4: wake while open probes', open(), { type: 'wake' }, 'open', ['probe']],
  ['C4: online after close() does nothing', closed, { type: 'online' }, 'closed', []],
  ['offline while open closes and waits', open(), { type: 'offline' }, 'offline', ['cancelTimers', 'stopHeartbeat', 'lost', 'closeSocket', 'emitState']],
  ['offline while reconnecting stops the retry loop', reconnecting, { type: 'offline' }, 'offline', ['cancelTimers', 'emitState']],
  ['a retry timer that fires while offline does nothing', offline, { type: 'retryDue' }, 'offline', []],
  ['wake while offline keeps waiting for online', offline, { type: 'wake' }, 'offline', []],
  ['online after offline connects', offline, { type: 'online' }, 'connecting', ['cancelTimers', 'openSocket', 'armConnectTimeout', 'emitState']],
  ['C2: close while connecting leaves no socket and no timer', connectingSocket, { type: 'close' }, 'closed', ['cancelTimers', 'closeSocket', 'terminate', 'emitState']],
  ['C5: close while open', open(), { type: 'close' }, 'closed', ['cancelTimers', 'stopHeartbeat', 'lost', 'closeSocket', 'terminate', 'emitState']],
  ['C5: close while reconnecting cancels the retry', reconnecting, { type: 'close' }, 'closed', ['cancelTimers', 'terminate', 'emitState']],
  ['close twice is once', closed, { type: 'close' }, 'closed', []],
  ['reconnect() while reconnecting goes now', reconnecting, { type: 'reconnect' }, 'connecting', ['cancelTimers', 'openSocket', 'armConnectTimeout', 'emitState']],
  ['reconnect() while open closes and reopens', open(), { type: 'reconnect' }, 'connecting', ['cancelTimers', 'closeSocket', 'stopHeartbeat', 'lost', 'openSocket', 'armConnectTimeout', 'emitState']],
  ['a token failure is a retryable failure', connectingSocket, { type: 'tokenFailed', generation: 1, reason: 'x' }, 'reconnecting', ['cancelTimers', 'closeSocket', 'scheduleRetry', 'emitState']],
]

describe('connection machine', () => {
  it.each(table)('%s', (_name, from, event, status, effects, over) => {
    const { state, effects: out } = transition(from, event, ctx(over))
    expect(state.status).toBe(status)
    expect(types(out)).toEqual(effects)
  })

  it('every new socket gets a new generation', () => {
    const a = transition(idle, { type: 'connect' }, ctx()).state
    const b = transition({ ...reconnecting, generation: a.generation }, { type: 'retryDue' }, ctx()).state
    expect(b.generation).toBe(a.generation + 1)
  })

  it('closes with the client codes 4440, 4441 and 4442', () => {
    const code = (r: { effects: readonly Effect[] }) => (r.effects.find((e) => e.type === 'closeSocket') as { code: number }).code
    expect(code(transition(open(), { type: 'dead', generation: 1 }, ctx()))).toBe(CloseCode.HeartbeatTimeout)
    expect(code(transition(connectingHello, { type: 'connectTimeout', generation: 1 }, ctx()))).toBe(CloseCode.ConnectTimeout)
    expect(code(transition(open(), { type: 'protocolErrors', generation: 1 }, ctx()))).toBe(CloseCode.ProtocolErrors)
  })

  it('anti-flap: the retry counter resets only after the connection stayed open stableAfterMs', () => {
    const close = { type: 'socketClosed', generation: 1, code: 1006, reason: '' } as const
    const flapped = transition(open(99_000, 4), close, ctx({ now: 100_000 })).state
    expect(flapped).toMatchObject({ status: 'reconnecting', attempt: 5 })
    const stable = transition(open(90_000, 4), close, ctx({ now: 100_000 })).state
    expect(stable).toMatchObject({ status: 'reconnecting', attempt: 1 })
  })

  it('the retry is scheduled at the backoff delay and its due time is in the state', () => {
    const r = transition({ ...connectingSocket, attempt: 2 }, { type: 'socketClosed', generation: 1, code: 1006, reason: '' }, ctx())
    expect(r.effects).toContainEqual({ type: 'scheduleRetry', delayMs: 3000 })
    expect(r.state).toMatchObject({ status: 'reconnecting', attempt: 3, dueAt: 103_000 })
  })

  it('S2: a 1012 whose reason carries the gateway\'s reconnect window and slot hands them to the delay; other closes hand none', () => {
    const asked: unknown[][] = []
    const delay = (...args: unknown[]) => (asked.push(args), 2500)
    const hinted = transition(open(), { type: 'socketClosed', generation: 1, code: 1012, reason: 'gateway restarting; reconnect within 4000 ms (slot 0.6180)' }, ctx({ delay }))
    expect(hinted.effects).toContainEqual({ type: 'scheduleRetry', delayMs: 2500 })
    expect(asked.at(-1)).toEqual([1, { windowMs: 4000, slot: 0.618 }])
    transition(open(), { type: 'socketClosed', generation: 1, code: 1001, reason: 'going away; reconnect within 3000 ms' }, ctx({ delay }))
    expect(asked.at(-1)).toEqual([1, { windowMs: 3000 }])
    // No hint: a crash (1006), a client-side close, or a reason without one.
    transition(open(), { type: 'socketClosed', generation: 1, code: 1006, reason: 'reconnect within 4000 ms' }, ctx({ delay }))
    expect(asked.at(-1)).toEqual([1])
    transition(open(), { type: 'dead', generation: 1 }, ctx({ delay }))
    expect(asked.at(-1)).toEqual([1])
    transition(open(), { type: 'socketClosed', generation: 1, code: 1012, reason: 'restart' }, ctx({ delay }))
    expect(asked.at(-1)).toEqual([1])
  })

  it('gives up after maxRetries and says why', () => {
    const r = transition({ ...connectingSocket, attempt: 3 }, { type: 'socketClosed', generation: 1, code: 1006, reason: '' }, ctx({ maxRetries: 3 }))
    expect(r.state.status).toBe('closed')
    const change = r.effects.find((e) => e.type === 'emitState') as Extract<Effect, { type: 'emitState' }>
    expect(change.change.reason?.message).toMatch(/gave up after 3 retries/)
  })

  it('emits the state change with the previous and current status and the close code', () => {
    const r = transition(open(), { type: 'socketClosed', generation: 1, code: 1012, reason: 'restart' }, ctx())
    expect(r.effects.at(-1)).toEqual({ type: 'emitState', change: { previous: 'open', current: 'reconnecting', reason: { code: 1012, message: 'restart' } } })
  })
})
