import type * as z from 'zod/mini'
import type { Spec, SpecCheck } from './spec'
import { forbiddenKey } from './records'
import { specOf } from './spec-of'

/**
 * Checkers: plain functions built once from a schema's spec (./spec: the generated specs of
 * the protocol, or `specOf` a zod schema's definition) that accept what the schema accepts and
 * return what it returns, at close to `JSON.parse` speed.
 * They are closures, not generated code, so they run under a CSP that forbids `new Function`.
 *
 * zod stays the source of truth: a checker is built from the schema, never written beside it,
 * and it is conservative. It answers `undefined` whenever it is not certain, and the caller then
 * asks zod (or `parseSpec`, which decides as zod does), which decides and words the error. So a checker may pass a valid value on to zod (a
 * string whose UTF-16 length breaks a bound that zod counts in code points), but it never
 * accepts a value zod rejects, and what it returns deep-equals what zod returns.
 *
 * A checker also holds a value to what {@link parseJson} guarantees, so that it can run on the
 * bare output of `JSON.parse`: it defers on a `__proto__`, `constructor` or `prototype` own key
 * anywhere, and on nesting deeper than the `maxDepth` it is given.
 *
 * Domain: JSON values. `undefined` never occurs in one, so it is free to mean "not accepted".
 * Schemas with parts a checker does not know (transforms, refinements, string formats,
 * catchalls, defaults, discriminated unions) get no checker at all.
 */

/**
 * Returns the parsed output, or `undefined` for "not accepted here: ask zod". `maxDepth` is how
 * deep the value may nest (an object or array is one level).
 * @default maxDepth Infinity
 */
export type Checker = (value: unknown, maxDepth?: number) => unknown

/** The inner form: `left` is how many levels of nesting the value may still use. */
type Check = (value: unknown, left: number) => unknown

/** Kinds an object checks in its own loop: a call per field costs more than the check. */
const enum Kind {
  Call,
  Any,
  String, // length in [lo, hi]
  Number, // finite, in [lo, hi]
  Int, // safe integer, in [lo, hi]
  Boolean,
  OneOf, // one of `values`
}

interface Built {
  fn: Check
  /** Whether `fn` returns its very input when it accepts. */
  same: boolean
  /** Whether the schema accepts an absent key (zod's `optional`). */
  optional?: boolean
  kind: Kind
  lo?: number
  hi?: number
  values?: readonly unknown[]
}

const cache = new WeakMap<object, Built | null>()

/**
 * A checker for `schema`, or `undefined` when the schema uses something checkers do not cover
 * (the caller then uses zod alone). Built once per schema and cached.
 */
export function compileChecker(schema: z.ZodMiniType): Checker | undefined {
  const fn = compileCheck(schema)
  return fn && ((value, maxDepth = Infinity) => fn(value, maxDepth))
}

/** The inner form, for the codec's hot path: `maxDepth` is required. */
export function compileCheck(schema: z.ZodMiniType): Check | undefined {
  let built = cache.get(schema)
  if (built === undefined) {
    const spec = specOf(schema)
    cache.set(schema, (built = spec ? build(spec) : null))
  }
  return built?.fn
}

/** The checker of a {@link Spec} (the generated ones, or one made of an application's parts). */
export function specCheck(spec: Spec): Check | undefined {
  return build(spec)?.fn
}

function build(spec: Spec): Built | null {
  let built = cache.get(spec)
  if (built === undefined) cache.set(spec, (built = make(spec)))
  return built
}

function make(spec: Spec): Built | null {
  switch (spec[0]) {
    case 'string':
    case 'number':
      return bounded(spec[1], spec[0])
    case 'boolean':
      return { fn: (v) => (typeof v === 'boolean' ? v : undefined), same: true, kind: Kind.Boolean }
    case 'unknown':
      return { fn: (v, left) => (plain(v, left) ? v : undefined), same: true, kind: Kind.Any }
    case 'literal':
    case 'enum': {
      const values = spec[1]
      return { fn: (v) => (values.includes(v as never) ? v : undefined), same: true, kind: Kind.OneOf, values }
    }
    case 'optional': {
      const inner = build(spec[1])
      return inner && !inner.optional ? { ...inner, optional: true } : null
    }
    case 'union': {
      // zod takes the first option that accepts, and a checker may pass over an option zod
      // would take: only options that return their input, where the choice cannot change the
      // output, are combined.
      const options = spec[1].map(build)
      if (options.some((o) => !o || !o.same || o.optional)) return null
      const fns = (options as Built[]).map((o) => o.fn)
      return { fn: (v, left) => (fns.some((f) => f(v, left) !== undefined) ? v : undefined), same: true, kind: Kind.Call }
    }
    case 'array': {
      const element = build(spec[1])
      const count = bounds(spec[2], 'min', 'max')
      // Arrays and records of values that come back as they went in (what the events hold);
      // a copying variant would only add bytes to every browser bundle.
      return element?.same && !element.optional && count ? { fn: arrayCheck(element.fn, count[0], count[1]), same: true, kind: Kind.Call } : null
    }
    case 'record': {
      const keySpec = spec[1]
      const key = build(keySpec)
      const value = build(spec[2])
      // String keys only (a JSON object's keys are strings).
      if (keySpec[0] !== 'string' || !key || !value?.same || value.optional) return null
      return { fn: recordCheck(keySpec[1].length ? key.fn : undefined, value.fn), same: true, kind: Kind.Call }
    }
    case 'object':
      return objectCheck(spec[1])
    default:
      // Nullables, variants and the application's own schemas: the careful path decides.
      return null
  }
}

/** Strings by length, numbers by value: the bounds of their checks, as one small closure. */
function bounded(checks: readonly SpecCheck[], type: 'string' | 'number'): Built | null {
  const string = type === 'string'
  const range = string ? bounds(checks, 'min', 'max') : bounds(checks.filter((c) => c[0] !== 'safeint'), 'gte', 'lte')
  if (!range) return null
  const [min, max] = range
  if (string) {
    // zod measures strings in code points; a code point is one or two UTF-16 units, so a string of
    // `n` units has between ceil(n / 2) and n of them. Where that leaves doubt, zod decides.
    const lo = Math.max(0, min * 2 - 1)
    return { fn: (v) => (typeof v === 'string' && v.length >= lo && v.length <= max ? v : undefined), same: true, kind: Kind.String, lo, hi: max }
  }
  // Number.isFinite is false for every non-number, NaN and ±Infinity, as zod's number is.
  if (checks.length !== range[2]) {
    // z.int(): the one check `bounds` was not given is its `safeint` format.
    return { fn: (v) => (Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? v : undefined), same: true, kind: Kind.Int, lo: min, hi: max }
  }
  return { fn: (v) => (Number.isFinite(v) && (v as number) >= min && (v as number) <= max ? v : undefined), same: true, kind: Kind.Number, lo: min, hi: max }
}

/**
 * `[min, max, count]` from inclusive lower and upper bound checks, or undefined when there is
 * another kind of check (an exclusive bound included: the schemas here have none, so zod keeps those).
 */
function bounds(checks: readonly SpecCheck[], lower: string, upper: string): [number, number, number] | undefined {
  let min = -Infinity
  let max = Infinity
  for (const c of checks) {
    if (c[0] === lower) min = Math.max(min, c[1]!)
    else if (c[0] === upper) max = Math.min(max, c[1]!)
    else return undefined
  }
  return [min, max, checks.length]
}

function arrayCheck(check: Check, min: number, max: number): Check {
  return (v, left) => {
    if (!Array.isArray(v) || v.length < min || v.length > max || left < 1) return undefined
    for (let i = 0; i < v.length; i++) if (check(v[i], left - 1) === undefined) return undefined
    return v
  }
}

/** A record with string keys; `key` is undefined when every string is a valid key. */
function recordCheck(key: Check | undefined, check: Check): Check {
  return (v, left) => {
    if (!isRecord(v) || left < 1) return undefined
    for (const k in v as Record<string, unknown>) {
      if (forbiddenKey(k) || (key !== undefined && key(k, 0) === undefined) || check((v as Record<string, unknown>)[k], left - 1) === undefined) return undefined
    }
    return v
  }
}

/**
 * An object: one walk over its own keys (for…in reads values through V8's enum cache, the
 * fastest load there is), each key matched against the shape, in shape order first; primitive
 * fields checked inline. Unknown keys are stripped, as zod strips them. When there is nothing to
 * strip the input itself is the output; otherwise it is copied once, in a second pass.
 */
function objectCheck(shape: Readonly<Record<string, Spec>>): Built | null {
  const keys = Object.keys(shape)
  const fields: Built[] = []
  for (const k of keys) {
    // zod reads a shape key through the prototype; no checker for keys a plain object inherits.
    const field = k in Object.prototype || forbiddenKey(k) ? null : build(shape[k]!)
    if (!field) return null
    fields.push(field)
  }
  const n = keys.length
  const checks = fields.map((f) => f.fn)
  const kinds = fields.map((f) => f.kind)
  const lo = fields.map((f) => f.lo ?? 0)
  const hi = fields.map((f) => f.hi ?? 0)
  const values = fields.map((f) => f.values ?? [])
  const optional = fields.map((f) => f.optional === true)
  const required = optional.filter((o) => !o).length
  const fn: Check = (v, left) => {
    if (!isObject(v) || left < 1) return undefined
    const o = v as Record<string, unknown>
    let next = 0
    let seen = 0
    let same = true
    for (const k in o) {
      let i = next
      if (keys[i] !== k) {
        i = keys.indexOf(k)
        if (i < 0) {
          // Stripped, but held to the same limits as the rest: the careful path would refuse it.
          if (forbiddenKey(k) || !plain(o[k], left - 1)) return undefined
          same = false
          continue
        }
      }
      next = i + 1
      const x = o[k]
      switch (kinds[i]) {
        case Kind.String:
          if (typeof x !== 'string' || x.length < lo[i]! || x.length > hi[i]!) return undefined
          break
        case Kind.Number:
          if (!Number.isFinite(x) || (x as number) < lo[i]! || (x as number) > hi[i]!) return undefined
          break
        case Kind.Int:
          if (!Number.isSafeInteger(x) || (x as number) < lo[i]! || (x as number) > hi[i]!) return undefined
          break
        case Kind.Boolean:
          if (typeof x !== 'boolean') return undefined
          break
        case Kind.Any:
          if (typeof x === 'object' && x !== null && !plain(x, left - 1)) return undefined
          break
        case Kind.OneOf:
          if (!values[i]!.includes(x)) return undefined
          break
        default: {
          const y = checks[i]!(x, left - 1)
          if (y === undefined) return undefined
          if (y !== x) same = false
        }
      }
      if (!optional[i]) seen++
    }
    if (seen !== required) return undefined
    if (same) return o
    const out: Record<string, unknown> = {}
    for (let i = 0; i < n; i++) {
      const k = keys[i]!
      const x = o[k]
      if (x !== undefined) out[k] = checks[i]!(x, left - 1)
    }
    return out
  }
  return { fn, same: false, kind: Kind.Call }
}

/** Whether a JSON value nests at most `left` levels and holds no forbidden key. Recurses at most `left` deep. */
function plain(v: unknown, left: number): boolean {
  if (typeof v !== 'object' || v === null) return true
  if (left < 1) return false
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!plain(v[i], left - 1)) return false
    return true
  }
  for (const k in v) if (forbiddenKey(k) || !plain((v as Record<string, unknown>)[k], left - 1)) return false
  return true
}

function isObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** zod's records take plain objects only; every object JSON.parse makes is one. */
function isRecord(v: unknown): boolean {
  return isObject(v) && Object.getPrototypeOf(v) === Object.prototype
}
