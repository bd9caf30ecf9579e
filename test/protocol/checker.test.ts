import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as z from 'zod/mini'
import { EVENT_TYPES, EventFrame, compileChecker, createAgentwireCodec, dialects, eventSchemas, parseJson, validate, type EventType } from 'agentwire/protocol'

/**
 * The native codec's hot path: event frames go through a checker built from the zod schema, and
 * zod decides whatever the checker defers. These properties pin that the two never disagree:
 * for valid frames of every event type and for mutated ones, the checker accepts only what zod
 * accepts, returns what zod returns, and the codec's answer (value or error message) is zod's.
 */

const frameSchemas = new Map(EVENT_TYPES.map((t) => [t, z.extend(EventFrame, { event: eventSchemas[t] })]))
const schemaOf = (t: EventType) => frameSchemas.get(t)!

type Def = Record<string, unknown> & { type: string }
const defOf = (s: z.ZodMiniType) => s._zod.def as unknown as Def
const checksOf = (s: z.ZodMiniType) => ((defOf(s).checks ?? []) as Array<{ _zod: { def: Record<string, number> } }>).map((c) => c._zod.def)

/** Values a schema accepts, derived from its definition (short strings and arrays, so runs stay quick). */
function arbitraryOf(schema: z.ZodMiniType): fc.Arbitrary<unknown> {
  const def = defOf(schema)
  const checks = checksOf(schema)
  const bound = (name: string, fallback: number) => checks.find((c) => c[name] !== undefined)?.[name] ?? fallback
  switch (def.type) {
    case 'string':
      return fc.string({ minLength: bound('minimum', 0), maxLength: Math.min(bound('maximum', 12), 12) })
    case 'number': {
      const min = checks.find((c) => (c as { check?: unknown }).check === 'greater_than')?.value ?? -1e6
      const max = checks.find((c) => (c as { check?: unknown }).check === 'less_than')?.value ?? 1e6
      return def.format === 'safeint' ? fc.integer({ min: Math.max(min, -1e6), max: Math.min(max, 1e6) }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true })
    }
    case 'boolean':
      return fc.boolean()
    case 'unknown':
      return fc.jsonValue({ maxDepth: 2 })
    case 'literal':
      return fc.constantFrom(...(def.values as unknown[]))
    case 'enum':
      return fc.constantFrom(...Object.values(def.entries as object))
    case 'union':
      return fc.oneof(...(def.options as z.ZodMiniType[]).map(arbitraryOf))
    case 'array':
      return fc.array(arbitraryOf(def.element as z.ZodMiniType), { minLength: bound('minimum', 0), maxLength: Math.min(bound('maximum', 3), 3) })
    case 'record':
      return fc.dictionary(arbitraryOf(def.keyType as z.ZodMiniType) as fc.Arbitrary<string>, arbitraryOf(def.valueType as z.ZodMiniType), { maxKeys: 3 })
    case 'object': {
      const shape = def.shape as Record<string, z.ZodMiniType>
      const model: Record<string, fc.Arbitrary<unknown>> = {}
      const required: string[] = []
      for (const [k, s] of Object.entries(shape)) {
        if (defOf(s).type === 'optional') model[k] = arbitraryOf(defOf(s).innerType as z.ZodMiniType)
        else (model[k] = arbitraryOf(s)), required.push(k)
      }
      return fc.record(model, { requiredKeys: required })
    }
    default:
      throw new Error(`no arbitrary for ${def.type}`)
  }
}

const validFrame = fc.constantFrom(...EVENT_TYPES).chain((t) => arbitraryOf(schemaOf(t)).map((frame) => ({ t, frame: frame as Record<string, unknown> })))

/**
 * Where a mutation lands: any path into the frame except what the codec dispatches on before
 * any schema runs (`type`, `event`, `event.type`; the bad-frames table pins those messages).
 */
function paths(value: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  const dispatch = (at.length === 1 && (at[0] === 'type' || at[0] === 'event')) || (at.length === 2 && at[0] === 'event' && at[1] === 'type')
  if (at.length > 0 && !dispatch) out.push(at)
  if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...at, Array.isArray(value) ? Number(k) : k], out)
  return out
}

const INF = 'INFINITY-MARK'
const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)])
const DEEP = deep(70)
const replacement = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(INF, -1, 0, 0.5, 101, 2 ** 53, '', 'paused', 'x'.repeat(600), '😀'.repeat(300), null, [], {}, DEEP),
)
type Mutation = { kind: 'set' | 'delete' | 'add'; pick: number; key: string; value: unknown }
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('set', 'delete', 'add'),
  pick: fc.nat(),
  key: fc.constantFrom('extra', '__proto__', 'constructor', 'prototype', 'status', 'payload'),
  value: replacement,
})

/** The frame's text after one mutation, with a marker standing for ±Infinity (JSON.stringify cannot write it). */
function mutate(frame: Record<string, unknown>, m: Mutation): string {
  const copy = JSON.parse(JSON.stringify(frame)) as Record<string, unknown>
  const all = paths(copy)
  const path = all[m.pick % all.length]!
  let parent: Record<string | number, unknown> = copy
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>
  const last = path[path.length - 1]!
  if (m.kind === 'set') parent[last] = m.value
  else if (m.kind === 'delete') delete parent[last]
  else {
    const target = parent[last]
    const into = target !== null && typeof target === 'object' && !Array.isArray(target) ? (target as Record<string, unknown>) : copy
    // An own `__proto__` as JSON.parse makes it, not the prototype setter.
    Object.defineProperty(into, m.key, { value: m.value, enumerable: true, writable: true, configurable: true })
  }
  return JSON.stringify(copy).replaceAll(`"${INF}"`, m.pick % 2 ? '1e999' : '-1e999')
}

/** What zod says of a frame's text: the careful path, exactly as the codec took it before it had a checker. */
function oracle(t: EventType, text: string) {
  const parsed = parseJson(text)
  if (!parsed.ok) return { ok: false as const, message: parsed.error.message }
  const checked = validate(schemaOf(t), parsed.value, 'event')
  return checked.ok ? { ok: true as const, value: checked.value } : { ok: false as const, message: checked.error.message }
}

/**
 * What the checker leaves to the careful path on purpose, though zod may accept the frame:
 * strings that zod counts in code points (surrogate pairs), prototype keys, nesting past the cap.
 */
const deferred = (text: string) => /[\uD800-\uDFFF]/.test(text) || /"(__proto__|constructor|prototype)":/.test(text) || text.includes('[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[')

function agree(t: EventType, text: string) {
  const expected = oracle(t, text)
  // The codec: same acceptance, same output, same error message.
  const decoded = dialects.agentwire.decode(text)
  if (expected.ok) {
    expect(decoded).toStrictEqual({ ok: true, messages: [expected.value] })
  } else {
    expect(decoded.ok).toBe(false)
    expect((decoded as { error: Error }).error.message).toBe(expected.message)
  }
  // The checker alone, on the bare JSON.parse output it sees on the hot path.
  const check = compileChecker(schemaOf(t))!
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return
  }
  const fast = check(raw, 64)
  if (fast !== undefined) {
    expect(expected.ok).toBe(true)
    expect(fast).toStrictEqual((expected as { value: unknown }).value)
  } else if (expected.ok && !deferred(text)) {
    throw new Error(`the checker deferred a frame zod accepts: ${text}`)
  }
}

describe('the event checker agrees with zod', () => {
  it('builds a checker for every event type', () => {
    for (const t of EVENT_TYPES) expect(compileChecker(schemaOf(t)), t).toBeTypeOf('function')
  })

  it('accepts every valid frame of every event type and returns what zod returns', () => {
    fc.assert(
      fc.property(validFrame, ({ t, frame }) => agree(t, JSON.stringify(frame))),
      { numRuns: 3000, seed: 20260407 },
    )
  })

  it('decides mutated frames as zod does: wrong types, out-of-range, ±Infinity, missing and unknown keys, prototype keys, deep nesting', () => {
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    try {
      fc.assert(
        // A mutation that leaves a frame zod accepts (an unknown key stripped, an optional
        // field removed) must stay on the fast path too.
        fc.property(validFrame, mutation, ({ t, frame }, m) => agree(t, mutate(frame, m))),
        { numRuns: 4000, seed: 20260408 },
      )
    } finally {
      Error.stackTraceLimit = limit
    }
  })

  it('strips unknown keys in one copy and keeps the rest of the frame', () => {
    const text = JSON.stringify({ type: 'event', channel: 'agent:a', epoch: 'e', seq: 3, extra: { deep: [1] }, event: { type: 'agent.status', payload: { name: 'a', status: 'busy', mood: 'fine' }, also: 1 } })
    expect(dialects.agentwire.decode(text)).toStrictEqual({ ok: true, messages: [{ type: 'event', channel: 'agent:a', epoch: 'e', seq: 3, event: { type: 'agent.status', payload: { name: 'a', status: 'busy' } } }] })
  })

  it('leaves prototype keys and deep nesting to the careful path, which drops or refuses them', () => {
    const withProto = '{"type":"event","channel":"agent:a","epoch":"e","seq":1,"event":{"type":"agent.status","payload":{"name":"a","status":"busy","agent":{"__proto__":{"polluted":1},"x":1}}}}'
    const r = dialects.agentwire.decode(withProto)
    expect(r).toStrictEqual({ ok: true, messages: [{ type: 'event', channel: 'agent:a', epoch: 'e', seq: 1, event: { type: 'agent.status', payload: { name: 'a', status: 'busy', agent: { x: 1 } } } }] })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    const tooDeep = `{"type":"event","channel":"agent:a","epoch":"e","seq":1,"event":{"type":"request.completed","payload":{"requestId":"r","result":${'['.repeat(62)}${']'.repeat(62)}}}}`
    expect(dialects.agentwire.decode(tooDeep)).toMatchObject({ ok: false, error: { message: 'expected JSON nested at most 64 levels deep, got more than 64' } })
    // The codec's own cap holds on the hot path too.
    const shallow = createAgentwireCodec({ limits: { maxDepth: 4 } })
    expect(shallow.decode('{"type":"event","channel":"a","epoch":"e","seq":1,"event":{"type":"request.completed","payload":{"requestId":"r","result":[1]}}}').ok).toBe(true)
    expect(shallow.decode('{"type":"event","channel":"a","epoch":"e","seq":1,"event":{"type":"request.completed","payload":{"requestId":"r","result":[[1]]}}}')).toMatchObject({ ok: false, error: { message: 'expected JSON nested at most 4 levels deep, got more than 4' } })
  })

  it('defers to zod where strings are counted in code points, and zod decides', () => {
    // 300 emoji are 600 UTF-16 units but 300 code points: within `id`'s 512, so zod accepts.
    const name = '😀'.repeat(300)
    const text = JSON.stringify({ type: 'event', channel: 'agent:a', epoch: 'e', seq: 1, event: { type: 'agent.status', payload: { name, status: 'busy' } } })
    expect(compileChecker(schemaOf('agent.status'))!(JSON.parse(text))).toBeUndefined()
    expect(dialects.agentwire.decode(text)).toMatchObject({ ok: true, messages: [{ event: { payload: { name } } }] })
  })

  it('has no checker for schemas it does not cover, so zod alone decides', () => {
    expect(compileChecker(z.string().check(z.regex(/a/)))).toBeUndefined()
    expect(compileChecker(z.pipe(z.string(), z.transform((s) => s.length)))).toBeUndefined()
    expect(compileChecker(z.strictObject({ a: z.string() }))).toBeUndefined()
    expect(compileChecker(z.object({ toString: z.string() }))).toBeUndefined()
    expect(compileChecker(z.number().check(z.gt(0)))).toBeUndefined()
  })
})
