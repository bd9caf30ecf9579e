import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProtocolError, decodeClientFrame, dialects, type DecodeResult } from 'agentwire/protocol'

/**
 * B1–B4 by property: whatever arrives, every dialect's decode returns a result (never throws),
 * errors are typed, and no prototype is touched. 10,000+ generated frames per run.
 */

const FORBIDDEN = ['__proto__', 'constructor', 'prototype']
const key = fc.oneof(fc.constantFrom(...FORBIDDEN, 'type', 'payload', 'data', 'event', 'polluted', 'status'), fc.string({ maxLength: 8 }))

/** JSON values whose objects may carry forbidden keys at any depth (built with defineProperty, as JSON.parse would). */
const hostile = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 2 }), tie('object'), fc.array(tie('value'), { maxLength: 4 })),
  object: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map((entries) => {
    const o: Record<string, unknown> = {}
    for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
    return o
  }),
})).value

const valid = [
  { type: 'event', channel: 'agent:a', epoch: 'e', seq: 1, event: { type: 'agent.status', payload: { name: 'a', status: 'busy' } } },
  { type: 'routing_decision', payload: { taskId: 't', agent: { name: 'a', strengths: [], cost: 1, latency: 1 }, timestamp: 1 } },
  { type: 'session_status_changed', timestamp: 't', session_id: 's', data: { status: 'x' } },
  { type: 'progress', requestId: 'r', agent: 'a', step: 1, status: 'running', data: {} },
  { type: 'task_progress', data: { task_id: 't', progress: 5 }, timestamp: 't' },
]

/** A valid frame with one field replaced by something hostile. */
const mutated = fc.tuple(fc.constantFrom(...valid), key, hostile).map(([frame, k, v]) => {
  const copy = JSON.parse(JSON.stringify(frame)) as Record<string, unknown>
  Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true })
  return copy
})

const frames = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
  hostile.map((v) => JSON.stringify(v) ?? 'null'),
  mutated.map((v) => JSON.stringify(v)),
  // Socket.IO shape: [event, payload], with real event names half the time.
  fc.tuple(fc.oneof(fc.constantFrom('agent:created', 'agent:statusChanged', 'system:notification', 'progress', 'state', 'error'), fc.string({ maxLength: 10 })), hostile).map(([n, v]) => [n, v]),
  fc.tuple(fc.constantFrom('agent:created', 'chat:messageCreated', 'progress'), mutated).map(([n, v]) => [n, v]),
  hostile,
)

/** Plain checks (not expect()) in the loop: 60,000 calls must stay fast. Returns what was wrong, or null. */
function problem(r: DecodeResult): string | null {
  if (typeof r.ok !== 'boolean') return 'no ok flag'
  if (!r.ok) return r.error instanceof ProtocolError && typeof r.error.message === 'string' && typeof r.error.code === 'string' ? null : 'untyped error'
  const stack: unknown[] = [...r.messages]
  while (stack.length) {
    const v = stack.pop()
    if (v === null || typeof v !== 'object') continue
    for (const k of FORBIDDEN) if (Object.prototype.hasOwnProperty.call(v, k)) return `own key ${k}`
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return 'foreign prototype'
    for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k])
  }
  return null
}

describe('fuzzing every dialect', () => {
  it('decodes 10,000 generated frames through every dialect without throwing or polluting', () => {
    // Stack traces of the expected errors are not under test and dominate the run time.
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    const codecs = Object.values(dialects).filter((c) => c !== undefined)
    expect(codecs).toHaveLength(6)
    let decoded = 0
    try {
      fc.assert(
        fc.property(frames, (frame) => {
          for (const codec of codecs) {
            const wrong = problem(codec.decode(frame))
            if (wrong !== null) throw new Error(`${codec.name}: ${wrong}`)
            decoded++
          }
          const c = decodeClientFrame(frame)
          if (!c.ok && !(c.error instanceof ProtocolError)) throw new Error('decodeClientFrame: untyped error')
        }),
        { numRuns: 10_000, seed: Number(process.env.FUZZ_SEED ?? 20240601) },
      )
    } finally {
      Error.stackTraceLimit = limit
    }
    expect(decoded).toBe(60_000)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted')
  })
})
