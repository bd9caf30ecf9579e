import { hasKey } from './records'
import { issueError, type Validated } from './validate'

/**
 * Specs: the protocol's zod schemas as plain data, generated from them at build time
 * (`npm run gen` writes `generated/specs.ts`), and a parser that reads a value with a spec
 * exactly as zod reads it with the schema: the same output (unknown keys stripped, key order
 * kept) and the same issues, in the same order, so `validate` words the same `ProtocolError`.
 * zod stays the source of truth; this is how `createClient` validates every frame without
 * carrying zod's runtime into a browser bundle. A test holds parser and zod to agreement.
 *
 * The parser follows zod v4's `_zod.run` for the parts the protocol uses, and nothing else:
 * a check runs after its type unless an earlier issue aborted, a length check also on any
 * value with a `length` unless an issue aborted explicitly, an oversized array stops at its
 * size cap, a union takes the one option that got past its type, and so on.
 */

/** A JSON-comparable literal. */
export type Primitive = string | number | boolean | null

/**
 * A check, in the order zod runs them: a length bound (`min`, `max`, inclusive), a number
 * bound (`gte`, `lte` inclusive, `gt`, `lt` exclusive) or `safeint` (z.int()).
 */
export type SpecCheck = readonly ['min' | 'max' | 'gte' | 'lte' | 'gt' | 'lt', number] | readonly ['safeint']

/** The parts of a schema a parse needs; what an application's zod schema is, from the spec's side. */
export interface ZodLike {
  safeParse(value: unknown, params?: { reportInput?: boolean }): { success: true; data: unknown } | { success: false; error: { issues: readonly unknown[] } }
  _zod: { optin?: string; optout?: string }
}

export type Spec =
  | readonly ['unknown']
  | readonly ['boolean']
  | readonly ['string' | 'number', readonly SpecCheck[]]
  | readonly ['literal' | 'enum', readonly Primitive[]]
  | readonly ['optional' | 'nullable', Spec]
  | readonly ['union', readonly Spec[]]
  /** A discriminated union: the key, and object options. */
  | readonly ['variant', string, readonly Spec[]]
  | readonly ['array', Spec, readonly SpecCheck[]]
  /** String keys (a `string` spec) and values. */
  | readonly ['record', Spec, Spec]
  | readonly ['object', Readonly<Record<string, Spec>>]
  /** An application's own schema (`defineEvents`): zod decides. Made at run time, never generated. */
  | readonly ['zod', ZodLike]

/** An issue as zod raises it (before finalizing): what `describeIssue` reads, and `continue`. */
export interface SpecIssue {
  code: string
  path: Array<PropertyKey>
  input?: unknown
  continue?: boolean
  [field: string]: unknown
}

interface Payload {
  value: unknown
  issues: SpecIssue[]
}

/** Parses `value` with `spec`: the output zod would give, and zod's issues (none when valid). */
export function parseSpec(spec: Spec, value: unknown): { value: unknown; issues: SpecIssue[] } {
  return run(spec, { value, issues: [] })
}

/** {@link validate} for a spec: the output, or a `ProtocolError` from the first issue. */
export function validateSpec(spec: Spec, value: unknown, frame: string): Validated<unknown> {
  const parsed = run(spec, { value, issues: [] })
  return parsed.issues.length === 0 ? { ok: true, value: parsed.value } : { ok: false, error: issueError(frame, parsed.issues as never) }
}

/** zod's `optin`: whether a key may be absent (`optional`), or is filled in when absent (`defaulted`). */
function optin(spec: Spec): string | undefined {
  switch (spec[0]) {
    case 'optional':
      return optin(spec[1]) === 'defaulted' ? 'defaulted' : 'optional'
    case 'nullable':
      return optin(spec[1])
    case 'union': {
      const ins = spec[1].map(optin)
      return ins.includes('defaulted') ? 'defaulted' : ins.some((o) => o !== undefined) ? 'optional' : undefined
    }
    case 'zod':
      return spec[1]._zod.optin
    default:
      return undefined
  }
}

/** zod's `optout`: whether the output may lack the key. */
function optout(spec: Spec): string | undefined {
  switch (spec[0]) {
    case 'optional':
      return 'optional'
    case 'nullable':
      return optout(spec[1])
    case 'union':
      return spec[1].some((o) => optout(o) === 'optional') ? 'optional' : undefined
    case 'zod':
      return spec[1]._zod.optout
    default:
      return undefined
  }
}

function run(spec: Spec, payload: Payload): Payload {
  switch (spec[0]) {
    case 'unknown':
      return payload
    case 'boolean':
      if (typeof payload.value !== 'boolean') payload.issues.push({ expected: 'boolean', code: 'invalid_type', input: payload.value, path: [] })
      return payload
    case 'string':
      if (typeof payload.value !== 'string') payload.issues.push({ expected: 'string', code: 'invalid_type', input: payload.value, path: [] })
      return checks(spec[1], payload)
    case 'number': {
      const input = payload.value
      if (!(typeof input === 'number' && !Number.isNaN(input) && Number.isFinite(input))) {
        const received = typeof input === 'number' ? (Number.isNaN(input) ? 'NaN' : String(input)) : undefined
        payload.issues.push({ expected: 'number', code: 'invalid_type', input, path: [], ...(received ? { received } : {}) })
      }
      return checks(spec[1], payload)
    }
    case 'literal':
    case 'enum':
      if (!spec[1].includes(payload.value as Primitive)) payload.issues.push({ code: 'invalid_value', values: spec[1], input: payload.value, path: [] })
      return payload
    case 'optional':
      return payload.value === undefined ? payload : run(spec[1], payload)
    case 'nullable':
      return payload.value === null ? payload : run(spec[1], payload)
    case 'union':
      return union(spec[1], payload)
    case 'variant':
      return variant(spec[1], spec[2], payload)
    case 'array':
      return array(spec[1], spec[2], payload)
    case 'record':
      return record(spec[1], spec[2], payload)
    case 'object':
      return object(spec[1], payload)
    case 'zod': {
      const r = spec[1].safeParse(payload.value, { reportInput: true })
      if (r.success) payload.value = r.data
      else payload.issues.push(...(r.error.issues as SpecIssue[]))
      return payload
    }
  }
}

function aborted(issues: readonly SpecIssue[], start = 0): boolean {
  for (let i = start; i < issues.length; i++) if (issues[i]!.continue !== true) return true
  return false
}

function explicitlyAborted(issues: readonly SpecIssue[]): boolean {
  for (const issue of issues) if (issue.continue === false) return true
  return false
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER

/** zod's `runChecks`: each check in order; a length check runs on anything with a length. */
function checks(list: readonly SpecCheck[], payload: Payload): Payload {
  let isAborted = aborted(payload.issues)
  for (const check of list) {
    const op = check[0]
    const length = op === 'min' || op === 'max'
    if (length) {
      const v = payload.value as { length?: unknown } | null | undefined
      if (explicitlyAborted(payload.issues) || v === null || v === undefined || v.length === undefined) continue
    } else if (isAborted) continue
    const start = payload.issues.length
    if (length) lengthCheck(op, check[1]!, payload)
    else if (op === 'safeint') safeint(payload)
    else numberCheck(op, check[1]!, payload)
    if (payload.issues.length !== start && !isAborted) isAborted = aborted(payload.issues, start)
  }
  return payload
}

function lengthCheck(op: 'min' | 'max', bound: number, payload: Payload): void {
  const input = payload.value as string | unknown[]
  const units = input.length
  if (op === 'max') {
    const length = typeof input === 'string' && units > bound ? codePoints(input) : units
    if (length <= bound) return
    payload.issues.push({ origin: lengthOrigin(input), code: 'too_big', maximum: bound, inclusive: true, input, continue: true, path: [] })
  } else {
    const length = typeof input === 'string' && units >= bound && units < bound * 2 ? codePoints(input) : units
    if (length >= bound) return
    payload.issues.push({ origin: lengthOrigin(input), code: 'too_small', minimum: bound, inclusive: true, input, continue: true, path: [] })
  }
}

function numberCheck(op: 'gte' | 'lte' | 'gt' | 'lt', bound: number, payload: Payload): void {
  const v = payload.value as number
  const inclusive = op === 'gte' || op === 'lte'
  const origin = 'number'
  if (op === 'gte' || op === 'gt') {
    if (inclusive ? v >= bound : v > bound) return
    payload.issues.push({ origin, code: 'too_small', minimum: bound, input: v, inclusive, continue: true, path: [] })
  } else {
    if (inclusive ? v <= bound : v < bound) return
    payload.issues.push({ origin, code: 'too_big', maximum: bound, input: v, inclusive, continue: true, path: [] })
  }
}

function safeint(payload: Payload): void {
  const input = payload.value as number
  if (!Number.isInteger(input)) {
    payload.issues.push({ expected: 'int', format: 'safeint', code: 'invalid_type', continue: false, input, path: [] })
    return
  }
  if (!Number.isSafeInteger(input)) {
    const big = input > 0
    payload.issues.push({
      input,
      code: big ? 'too_big' : 'too_small',
      ...(big ? { maximum: MAX_SAFE } : { minimum: -MAX_SAFE }),
      note: 'Integers must be within the safe integer range.',
      origin: 'int',
      inclusive: true,
      continue: true,
      path: [],
    })
  }
}

function lengthOrigin(input: unknown): string {
  return Array.isArray(input) ? 'array' : typeof input === 'string' ? 'string' : 'unknown'
}

/** Code points in `s`: a surrogate pair counts once, a lone surrogate as itself (zod's count). */
function codePoints(s: string): number {
  let count = s.length
  for (let i = 0; i < s.length - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--
      i++
    }
  }
  return count
}

function prefix(key: PropertyKey, issues: SpecIssue[], into: SpecIssue[]): void {
  for (const issue of issues) {
    issue.path.unshift(key)
    into.push(issue)
  }
}

function isObject(v: unknown): v is Record<PropertyKey, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** zod's `isPlainObject`, what a record accepts. */
function isPlainObject(o: unknown): o is Record<PropertyKey, unknown> {
  if (!isObject(o)) return false
  const ctor = o.constructor
  if (ctor === undefined || typeof ctor !== 'function') return true
  const prot = (ctor as { prototype?: unknown }).prototype
  if (!isObject(prot)) return false
  return hasKey(prot, 'isPrototypeOf')
}

function union(options: readonly Spec[], payload: Payload): Payload {
  if (options.length === 1) return run(options[0]!, payload)
  const results: Payload[] = []
  for (const option of options) {
    const result = run(option, { value: payload.value, issues: [] })
    if (result.issues.length === 0) return result
    results.push(result)
  }
  const through = results.filter((r) => !aborted(r.issues))
  if (through.length === 1) return through[0]!
  payload.issues.push({ code: 'invalid_union', input: payload.value, errors: [], path: [] })
  return payload
}

function variant(key: string, options: readonly Spec[], payload: Payload): Payload {
  const input = payload.value
  if (!isObject(input)) {
    payload.issues.push({ code: 'invalid_type', expected: 'object', input, path: [] })
    return payload
  }
  const map = discriminators(key, options)
  const option = map.get(input[key] as Primitive)
  if (option) return run(option, payload)
  const values = [...map.keys()].filter((v) => map.get(v) !== null)
  payload.issues.push({ code: 'invalid_union', errors: [], note: 'No matching discriminator', discriminator: key, options: values, input, path: [key] })
  return payload
}

const maps = new WeakMap<readonly Spec[], Map<Primitive | undefined, Spec | null>>()

/** The option of each discriminator value, as zod's `discriminatorMap` builds it. */
function discriminators(key: string, options: readonly Spec[]): Map<Primitive | undefined, Spec | null> {
  let map = maps.get(options)
  if (map) return map
  map = new Map()
  for (const option of options) {
    for (const value of tagValues((option as readonly ['object', Record<string, Spec>])[1][key]!)) {
      if (map.has(value)) map.set(value, null)
      else map.set(value, option)
    }
  }
  maps.set(options, map)
  return map
}

function tagValues(spec: Spec): Array<Primitive | undefined> {
  if (spec[0] === 'literal' || spec[0] === 'enum') return [...spec[1]]
  if (spec[0] === 'optional') return [...tagValues(spec[1]), undefined]
  if (spec[0] === 'nullable') return [...tagValues(spec[1]), null]
  throw new Error(`agentwire: a variant's key must be a literal or an enum, not ${spec[0]}`)
}

function array(element: Spec, list: readonly SpecCheck[], payload: Payload): Payload {
  const input = payload.value
  // An array longer than its cap fails that check alone, before any element is read.
  if (Array.isArray(input)) {
    let cap = Infinity
    for (const check of list) {
      if (check[0] !== 'min' && check[0] !== 'max') break
      if (check[0] === 'max') cap = Math.min(cap, check[1])
    }
    if (input.length > cap) {
      for (const check of list) {
        if (check[0] !== 'min' && check[0] !== 'max') break
        if (check[0] === 'max' && input.length > check[1]) {
          lengthCheck('max', check[1], payload)
          payload.issues[payload.issues.length - 1]!.continue = false
          return checks(list, payload)
        }
      }
    }
  }
  if (!Array.isArray(input)) {
    payload.issues.push({ expected: 'array', code: 'invalid_type', input, path: [] })
    return checks(list, payload)
  }
  const out: unknown[] = new Array(input.length)
  payload.value = out
  for (let i = 0; i < input.length; i++) {
    const result = run(element, { value: input[i], issues: [] })
    if (result.issues.length) prefix(i, result.issues, payload.issues)
    out[i] = result.value
  }
  return checks(list, payload)
}

function record(key: Spec, value: Spec, payload: Payload): Payload {
  const input = payload.value
  if (!isPlainObject(input)) {
    payload.issues.push({ expected: 'record', code: 'invalid_type', input, path: [] })
    return payload
  }
  const out: Record<PropertyKey, unknown> = {}
  payload.value = out
  for (const k of Reflect.ownKeys(input)) {
    if (k === '__proto__' || !Object.prototype.propertyIsEnumerable.call(input, k)) continue
    // A string key schema never takes zod's numeric retry: a number is no string.
    const keyResult = run(key, { value: k, issues: [] })
    if (keyResult.issues.length) {
      payload.issues.push({ code: 'invalid_key', origin: 'record', issues: keyResult.issues, input: k, path: [k] })
      continue
    }
    const result = run(value, { value: input[k], issues: [] })
    if (result.issues.length) prefix(k, result.issues, payload.issues)
    out[k] = result.value
  }
  return payload
}

function object(shape: Readonly<Record<string, Spec>>, payload: Payload): Payload {
  const input = payload.value
  if (!isObject(input)) {
    payload.issues.push({ expected: 'object', code: 'invalid_type', input, path: [] })
    return payload
  }
  const out: Record<string, unknown> = {}
  payload.value = out
  for (const key in shape) {
    const spec = shape[key]!
    const result = run(spec, { value: input[key], issues: [] })
    property(result, payload, out, key, key in input, optin(spec), optout(spec))
  }
  return payload
}

/** zod's `handlePropertyResult`: how a key's result lands in the object, absent keys included. */
function property(result: Payload, payload: Payload, out: Record<string, unknown>, key: string, present: boolean, optin: string | undefined, optout: string | undefined): void {
  const optionalOut = optout === 'optional'
  if (!present && optionalOut && optin === 'optional') return
  if (result.issues.length) {
    if (optin !== undefined && optionalOut && !present) return
    prefix(key, result.issues, payload.issues)
  }
  if (!present && optin === undefined) {
    if (!result.issues.length) payload.issues.push({ code: 'invalid_type', expected: 'nonoptional', input: undefined, path: [key] })
    return
  }
  if (result.value === undefined) {
    if (present || (optin === 'defaulted' && !optionalOut)) out[key] = undefined
  } else out[key] = result.value
}
