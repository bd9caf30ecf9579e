import type * as z from 'zod/mini'
import type { Primitive, Spec, SpecCheck } from './spec'

/**
 * The {@link Spec} of a zod v4 schema (classic or mini), read from its definition
 * (`_zod.def`), or `undefined` when the schema uses anything a spec does not model exactly:
 * transforms, refinements, formats, defaults, catchalls, strict or loose objects, custom
 * `abort` checks. The generator (`npm run gen`) turns the protocol's schemas into specs with
 * it and fails on `undefined`; at run time it gives an application's schema a fast checker.
 */
export function specOf(schema: z.core.$ZodType): Spec | undefined {
  try {
    return read(schema)
  } catch {
    return undefined
  }
}

type Def = Record<string, unknown> & { type: string; checks?: Array<{ _zod: { def: CheckDef } }> }
type CheckDef = { check: string; value?: unknown; inclusive?: boolean; minimum?: number; maximum?: number; format?: string; abort?: boolean }

class Unsupported extends Error {}
const no = (): never => {
  throw new Unsupported()
}

function read(schema: z.core.$ZodType): Spec {
  const inst = schema._zod
  const def = inst.def as unknown as Def
  if (def.coerce) no()
  const traits = inst.traits
  // A schema that is itself a check (z.int(): a number with its `safeint` format) runs it first.
  const own = traits.has('$ZodCheck') ? [def as unknown as CheckDef] : []
  const checks = own.concat((def.checks ?? []).map((c) => c._zod.def))
  const plain = () => checks.length === 0 || no()
  switch (def.type) {
    case 'string':
      if (def.format !== undefined || !traits.has('$ZodString') || traits.has('$ZodStringFormat')) no()
      return ['string', checks.map((c) => length(c))]
    case 'number':
      return ['number', checks.map(numeric)]
    case 'boolean':
      plain()
      return ['boolean']
    case 'unknown':
    case 'any':
      plain()
      return ['unknown']
    case 'literal':
      plain()
      return ['literal', primitives(def.values as unknown[])]
    case 'enum': {
      plain()
      // zod's getEnumValues: a numeric enum's reverse mappings are not values.
      const entries = def.entries as Record<string, unknown>
      const numbers = Object.values(entries).filter((v) => typeof v === 'number')
      return ['enum', primitives(Object.entries(entries).filter(([k]) => !numbers.includes(+k)).map(([, v]) => v))]
    }
    case 'optional':
      plain()
      if (traits.has('$ZodExactOptional')) no()
      return ['optional', read(def.innerType as z.core.$ZodType)]
    case 'nullable':
      plain()
      return ['nullable', read(def.innerType as z.core.$ZodType)]
    case 'union': {
      plain()
      const options = (def.options as z.core.$ZodType[]).map(read)
      if (traits.has('$ZodDiscriminatedUnion')) {
        if (def.unionFallback || typeof def.discriminator !== 'string') no()
        for (const o of options) if (o[0] !== 'object') no()
        return ['variant', def.discriminator as string, options]
      }
      if (traits.has('$ZodXor') || def.inclusive === false) no()
      return ['union', options]
    }
    case 'array':
      return ['array', read(def.element as z.core.$ZodType), checks.map((c) => length(c))]
    case 'record': {
      plain()
      const key = read(def.keyType as z.core.$ZodType)
      if (def.mode !== undefined || key[0] !== 'string') no()
      return ['record', key, read(def.valueType as z.core.$ZodType)]
    }
    case 'object': {
      plain()
      if (def.catchall !== undefined) no()
      const shape = def.shape as Record<string, z.core.$ZodType>
      if (Object.getOwnPropertySymbols(shape).length) no()
      const out: Record<string, Spec> = {}
      for (const key of Object.keys(shape)) {
        if (key === '__proto__') no()
        out[key] = read(shape[key]!)
      }
      return ['object', out]
    }
    default:
      return no()
  }
}

function length(c: CheckDef): SpecCheck {
  if (c.abort) no()
  if (c.check === 'min_length' && typeof c.minimum === 'number') return ['min', c.minimum]
  if (c.check === 'max_length' && typeof c.maximum === 'number') return ['max', c.maximum]
  return no()
}

function numeric(c: CheckDef): SpecCheck {
  if (c.abort) no()
  if (c.check === 'number_format' && c.format === 'safeint') return ['safeint']
  if (typeof c.value !== 'number') no()
  if (c.check === 'greater_than') return [c.inclusive ? 'gte' : 'gt', c.value as number]
  if (c.check === 'less_than') return [c.inclusive ? 'lte' : 'lt', c.value as number]
  return no()
}

function primitives(values: unknown[]): Primitive[] {
  for (const v of values) if (v !== null && typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) no()
  return values as Primitive[]
}
