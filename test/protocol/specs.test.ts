import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as z from 'zod/mini'
import {
  EventFrame,
  StateRestSchema,
  StateViewSchemas,
  SubscribeResultSchema,
  UntypedEventFrame,
  createAgentwireCodec,
  createClientCodec,
  defineEvents,
  describeIssue,
  eventSchemas,
  type EventType,
} from 'agentwire/protocol'
import { generateSpecs } from '../../scripts/spec-text'
import { CLIENT_FRAME_SCHEMAS, SERVER_FRAME_SCHEMAS } from '../../src/protocol/frame-schemas'
import { specCheck } from '../../src/protocol/checker'
import { CLIENT, ENVELOPE, PAYLOADS, SERVER, STATE_REST, STATE_VIEWS, SUBSCRIBE_RESULT, UNTYPED_EVENT } from '../../src/protocol/generated/specs'
import { parseSpec, type Spec } from '../../src/protocol/spec'

/**
 * The specs `createClient` validates with are generated from the zod schemas and must decide
 * exactly as zod does: same acceptance, deep-equal output, and the same issues (so the same
 * `ProtocolError` message and path), on valid values and on values mutated every way a frame
 * can go wrong. The generated file must be what the generator writes today.
 */

type Case = { name: string; spec: Spec; schema: z.ZodMiniType }

const eventSpec = (t: string): Spec => ['object', { ...ENVELOPE, event: ['object', { type: ['literal', [t]], payload: PAYLOADS[t as EventType] }] }]

const CASES: Case[] = [
  ...(Object.keys(PAYLOADS) as EventType[]).map((t) => ({ name: `event ${t}`, spec: eventSpec(t), schema: z.extend(EventFrame, { event: eventSchemas[t] }) as z.ZodMiniType })),
  { name: 'untyped event', spec: ['object', { ...ENVELOPE, event: UNTYPED_EVENT }], schema: UntypedEventFrame },
  ...Object.entries(SERVER_FRAME_SCHEMAS).map(([k, schema]) => ({ name: `server ${k}`, spec: SERVER[k as keyof typeof SERVER], schema: schema as z.ZodMiniType })),
  ...Object.entries(CLIENT_FRAME_SCHEMAS).map(([k, schema]) => ({ name: `client ${k}`, spec: CLIENT[k as keyof typeof CLIENT], schema: schema as z.ZodMiniType })),
  { name: 'subscribe result', spec: SUBSCRIBE_RESULT, schema: SubscribeResultSchema },
  { name: 'state rest', spec: STATE_REST, schema: StateRestSchema },
  ...Object.entries(StateViewSchemas).map(([k, schema]) => ({ name: `state view ${k}`, spec: STATE_VIEWS[k as keyof typeof STATE_VIEWS], schema: schema as z.ZodMiniType })),
]

/** Values a spec accepts (short strings and arrays, so runs stay quick). */
function arbitraryOf(spec: Spec): fc.Arbitrary<unknown> {
  switch (spec[0]) {
    case 'unknown':
      return fc.jsonValue({ maxDepth: 2 })
    case 'boolean':
      return fc.boolean()
    case 'string': {
      const min = spec[1].find((c) => c[0] === 'min')?.[1] ?? 0
      const max = spec[1].find((c) => c[0] === 'max')?.[1] ?? 12
      return fc.string({ minLength: min, maxLength: Math.min(Math.max(min, 12), max) })
    }
    case 'number': {
      const min = spec[1].find((c) => c[0] === 'gte')?.[1] ?? -1e6
      const max = spec[1].find((c) => c[0] === 'lte')?.[1] ?? 1e6
      return spec[1].some((c) => c[0] === 'safeint') ? fc.integer({ min: Math.max(min, -1e6), max: Math.min(max, 1e6) }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true })
    }
    case 'literal':
    case 'enum':
      return fc.constantFrom(...spec[1])
    case 'optional':
      return fc.option(arbitraryOf(spec[1]), { nil: undefined })
    case 'nullable':
      return fc.option(arbitraryOf(spec[1]), { nil: null })
    case 'union':
      return fc.oneof(...spec[1].map(arbitraryOf))
    case 'variant':
      return fc.oneof(...spec[2].map(arbitraryOf))
    case 'array': {
      const min = spec[2].find((c) => c[0] === 'min')?.[1] ?? 0
      const max = spec[2].find((c) => c[0] === 'max')?.[1] ?? 3
      return fc.array(arbitraryOf(spec[1]), { minLength: min, maxLength: Math.min(Math.max(min, 3), max) })
    }
    case 'record':
      return fc.dictionary(arbitraryOf(spec[1]) as fc.Arbitrary<string>, arbitraryOf(spec[2]), { maxKeys: 3 })
    case 'object': {
      const model: Record<string, fc.Arbitrary<unknown>> = {}
      const required: string[] = []
      for (const [k, s] of Object.entries(spec[1])) {
        if (s[0] === 'optional') model[k] = arbitraryOf(s[1])
        else (model[k] = arbitraryOf(s)), required.push(k)
      }
      return fc.record(model, { requiredKeys: required })
    }
    case 'zod':
      throw new Error('no arbitrary for an application schema')
  }
}

const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)])
/** Replacements, JSON and not (client frames are JS values): every way a field can be wrong. */
const replacement = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom<unknown>(
    undefined,
    NaN,
    Infinity,
    -Infinity,
    -1,
    0,
    0.5,
    1.5,
    101,
    2 ** 53,
    -(2 ** 60),
    '',
    'paused',
    'x'.repeat(70),
    'x'.repeat(600),
    '😀'.repeat(300),
    '😀'.repeat(40),
    '\uD800'.repeat(3),
    null,
    true,
    [],
    {},
    { length: 3 },
    { length: 'abc' },
    new Date(0),
    Object.assign(Object.create(null), { a: 1 }),
    { [Symbol('s')]: 1, a: 1 },
    new Array(1001).fill('a'),
    new Array(51).fill({ channel: 'c' }),
    [1, 'a', null],
    { ok: true, channel: 'c', recovered: 'no' },
    { ok: 'maybe' },
    { kind: 'text', id: 1 },
    deep(5),
  ),
)
type Mutation = { kind: 'set' | 'delete' | 'add'; pick: number; key: string; value: unknown }
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('set', 'delete', 'add'),
  pick: fc.nat(),
  key: fc.constantFrom('extra', '__proto__', 'constructor', 'status', 'payload', 'ok', 'kind', 'x'.repeat(300)),
  value: replacement,
})

/** Every place a value holds another: the holder and the key, the root's wrapper included. */
function places(holder: Record<string | number, unknown>, key: string | number, out: Array<[Record<string | number, unknown>, string | number]> = []) {
  out.push([holder, key])
  const value = holder[key]
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) for (const k of Object.keys(value)) places(value as Record<string, unknown>, Array.isArray(value) ? Number(k) : k, out)
  return out
}

/** `value` after one mutation; values are copied with their own `__proto__` keys kept as own keys. */
function mutate(value: unknown, m: Mutation): unknown {
  const copy = { root: clone(value) } as Record<string | number, unknown>
  const all = places(copy, 'root')
  const [holder, key] = all[m.pick % all.length]!
  if (m.kind === 'set') holder[key] = m.value
  else if (m.kind === 'delete') {
    if (Array.isArray(holder)) {
      for (let i = key as number; i < holder.length - 1; i++) holder[i] = holder[i + 1]
      holder.length--
    } else delete holder[key]
  } else {
    const target = holder[key]
    const into = target !== null && typeof target === 'object' && !Array.isArray(target) ? (target as Record<string, unknown>) : holder
    if (!Array.isArray(into)) Object.defineProperty(into, m.key, { value: m.value, enumerable: true, writable: true, configurable: true })
  }
  return copy.root
}

function clone(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Date) return value
  const out = (Array.isArray(value) ? [] : Object.create(Object.getPrototypeOf(value))) as Record<PropertyKey, unknown>
  for (const k of Reflect.ownKeys(value)) if (k !== 'length' || !Array.isArray(value)) Object.defineProperty(out, k, { value: clone((value as Record<PropertyKey, unknown>)[k]), enumerable: true, writable: true, configurable: true })
  return out
}

/** zod and the spec decide `value` alike: acceptance, output, and every issue as `validate` words it. */
function agree({ name, spec, schema }: Case, value: unknown) {
  const expected = schema.safeParse(value, { reportInput: true })
  const actual = parseSpec(spec, value)
  if (expected.success) {
    expect(actual.issues, name).toEqual([])
    expect(actual.value, name).toStrictEqual(expected.data)
  } else {
    const words = (issues: readonly unknown[]) => issues.map((i) => describeIssue(name, i as never))
    expect(words(actual.issues), name).toStrictEqual(words(expected.error.issues))
  }
  // The fast checker, where there is one, on what JSON.parse makes (its domain): it accepts
  // only what zod accepts and returns the same.
  const check = specCheck(spec)
  const text = JSON.stringify(value)
  if (check === undefined || text === undefined) return
  const json: unknown = JSON.parse(text)
  const fast = check(json, 64)
  if (fast !== undefined) {
    const zod = schema.safeParse(json)
    expect(zod.success, `${name}: the checker accepted what zod refuses`).toBe(true)
    expect(fast).toStrictEqual((zod as { data: unknown }).data)
  }
}

const valid = fc.constantFrom(...CASES).chain((c) => arbitraryOf(c.spec).map((value) => ({ c, value })))

describe('generated specs', () => {
  it('are what the generator writes from the zod schemas today (run `npm run gen` after changing a schema)', () => {
    expect(readFileSync(new URL('../../src/protocol/generated/specs.ts', import.meta.url), 'utf8')).toBe(generateSpecs())
  })

  it('accept every valid value as zod does, with the same output', () => {
    fc.assert(
      fc.property(valid, ({ c, value }) => agree(c, value)),
      { numRuns: 3000, seed: 20260601 },
    )
  })

  it('decide mutated values as zod does, issue for issue: wrong types, bounds, ±Infinity, NaN, missing and unknown keys, code points, oversized arrays, bad variants', () => {
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    try {
      fc.assert(
        fc.property(valid, fc.array(mutation, { minLength: 1, maxLength: 3 }), ({ c, value }, ms) => agree(c, ms.reduce(mutate, value))),
        { numRuns: 6000, seed: 20260602 },
      )
    } finally {
      Error.stackTraceLimit = limit
    }
  })
})

describe('the client codec', () => {
  const zodCodec = createAgentwireCodec()
  const specCodec = createClientCodec()

  it('decodes and encodes as the zod codec does, errors and all', () => {
    const events = (Object.keys(PAYLOADS) as EventType[]).map((t) => CASES.find((c) => c.name === `event ${t}`)!)
    const frames = [...events, CASES.find((c) => c.name === 'untyped event')!, ...CASES.filter((c) => c.name.startsWith('server '))]
    const frame = fc.constantFrom(...frames).chain((c) => arbitraryOf(c.spec))
    fc.assert(
      fc.property(frame, fc.array(mutation, { maxLength: 2 }), (value, ms) => {
        const text = JSON.stringify(ms.reduce(mutate, value))
        if (text === undefined) return
        expect(specCodec.decode(text)).toStrictEqual(zodCodec.decode(text))
      }),
      { numRuns: 3000, seed: 20260603 },
    )
    const command = fc.constantFrom(...CASES.filter((c) => c.name.startsWith('client '))).chain((c) => arbitraryOf(c.spec))
    fc.assert(
      fc.property(command, fc.array(mutation, { maxLength: 2 }), (value, ms) => {
        const frame = ms.reduce(mutate, value) as never
        expect(specCodec.encode(frame)).toStrictEqual(zodCodec.encode(frame))
      }),
      { numRuns: 2000, seed: 20260604 },
    )
  })

  it("validates the application's events with their own zod schemas, as the zod codec does", () => {
    const events = defineEvents({
      'deploy.finished': z.object({ service: z.string().check(z.minLength(1)), ok: z.boolean() }),
      // A refinement: no spec, no checker; zod alone decides.
      'deploy.scored': z.object({ score: z.number().check(z.refine((n) => n >= 0, 'negative')) }),
      'deploy.noted': z.optional(z.string()),
    })
    const a = createAgentwireCodec({ events })
    const b = createClientCodec({ events })
    const frame = (type: string, payload: unknown, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ type: 'event', channel: 'c', epoch: 'e', seq: 1, event: { type, ...(payload === undefined ? {} : { payload }) }, ...extra })
    const texts = [
      frame('deploy.finished', { service: 'api', ok: true }),
      frame('deploy.finished', { service: 'api', ok: true, more: 1 }),
      frame('deploy.finished', { service: '', ok: 'yes' }),
      frame('deploy.finished', { service: 'api', ok: true }, { seq: 0 }),
      frame('deploy.finished', { service: 1 }, { seq: 'x', channel: '' }),
      frame('deploy.scored', { score: 3 }),
      frame('deploy.scored', { score: -3 }),
      frame('deploy.scored', { score: -3 }, { epoch: 5 }),
      frame('deploy.noted', undefined),
      frame('deploy.noted', 'hi'),
      frame('deploy.noted', 5),
      frame('deploy.other', { x: 1 }),
    ]
    for (const text of texts) expect(b.decode(text), text).toStrictEqual(a.decode(text))
  })
})
